//! Camera frame hooks: every format, strides, rotation, YUV round trip against the photo path,
//! and no allocation per frame once the geometry is cached.

use std::alloc::{GlobalAlloc, Layout, System};

use t2ue::{apply_noise, Error, FrameData, FrameProtector, Noise, PixelLayout, Plane, Rotation, YuvRange};

/// Counts allocations made by the current thread (tests run in parallel threads).
struct Counting;
thread_local! {
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
fn allocs() -> usize {
    ALLOCS.with(|c| c.get())
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

const EPS: f32 = 8.0 / 255.0;

fn noise(r: u32) -> Noise {
    let n = (3 * r * r) as usize;
    let v = (0..n).map(|i| (((i * 2654435761) >> 7) % 1000) as f32 / 999.0 * 2.0 * EPS - EPS).collect();
    Noise::from_values(r, EPS, v, "test").unwrap()
}

/// A smooth test picture with texture, RGB8.
fn picture(w: usize, h: usize) -> Vec<u8> {
    let mut v = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let f = 128.0 + 90.0 * ((x as f32 * 0.05 + c as f32).sin() * (y as f32 * 0.04).cos()) + ((x * 7 + y * 13 + c * 5) % 11) as f32;
                v[(y * w + x) * 3 + c] = f.clamp(0.0, 255.0) as u8;
            }
        }
    }
    v
}

/// Rotate an RGB8 image clockwise by `rot` (the turn that makes the buffer upright).
fn rotate_cw(src: &[u8], w: usize, h: usize, rot: Rotation) -> (Vec<u8>, usize, usize) {
    let (nw, nh) = match rot {
        Rotation::Deg0 | Rotation::Deg180 => (w, h),
        _ => (h, w),
    };
    let mut out = vec![0u8; src.len()];
    for by in 0..h {
        for bx in 0..w {
            let (ux, uy) = match rot {
                Rotation::Deg0 => (bx, by),
                Rotation::Deg90 => (h - 1 - by, bx),
                Rotation::Deg180 => (w - 1 - bx, h - 1 - by),
                Rotation::Deg270 => (by, w - 1 - bx),
            };
            out[(uy * nw + ux) * 3..(uy * nw + ux) * 3 + 3].copy_from_slice(&src[(by * w + bx) * 3..(by * w + bx) * 3 + 3]);
        }
    }
    (out, nw, nh)
}

fn undo(rot: Rotation) -> Rotation {
    match rot {
        Rotation::Deg90 => Rotation::Deg270,
        Rotation::Deg270 => Rotation::Deg90,
        r => r,
    }
}

fn diff_stats(a: &[u8], b: &[u8]) -> (u8, f64) {
    let mut max = 0u8;
    let mut n = 0usize;
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        max = max.max(d);
        if d > 0 {
            n += 1;
        }
    }
    (max, n as f64 / a.len() as f64)
}

#[test]
fn packed_frames_in_every_rotation_match_the_photo_path() {
    let n = noise(16);
    for (w, h) in [(160usize, 90usize), (91, 160), (64, 64), (1, 7)] {
        let clean = picture(w, h);
        for rot in [Rotation::Deg0, Rotation::Deg90, Rotation::Deg180, Rotation::Deg270] {
            // frame path, in buffer orientation
            let mut frame = clean.clone();
            let mut fp = FrameProtector::new(n.clone());
            fp.protect(FrameData::Packed { data: &mut frame, stride: w * 3, layout: PixelLayout::Rgb8 }, w as u32, h as u32, rot).unwrap();
            // photo path: make upright, protect, turn back
            let (mut up, uw, uh) = rotate_cw(&clean, w, h, rot);
            apply_noise(&n, &mut up, uw as u32, uh as u32, uw * 3, PixelLayout::Rgb8).unwrap();
            let (back, bw, bh) = rotate_cw(&up, uw, uh, undo(rot));
            assert_eq!((bw, bh), (w, h));
            let (max, frac) = diff_stats(&frame, &back);
            assert!(max <= 1 && frac < 0.02, "{w}x{h} {rot:?}: max diff {max}, {:.3}% differ", frac * 100.0);
            if rot == Rotation::Deg0 {
                assert_eq!(max, 0, "unrotated frames are the photo path exactly");
            }
        }
    }
}

fn to_yuv420(rgb: &[u8], w: usize, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut y = vec![0u8; w * h];
    let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
    let px = |x: usize, yy: usize| {
        let p = &rgb[(yy * w + x) * 3..(yy * w + x) * 3 + 3];
        (p[0] as f32, p[1] as f32, p[2] as f32)
    };
    for yy in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, yy);
            y[yy * w + x] = (0.299 * r + 0.587 * g + 0.114 * b).round().clamp(0.0, 255.0) as u8;
        }
    }
    for cy in 0..ch {
        for cx in 0..cw {
            let mut acc = (0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (r, g, b) = px((2 * cx + dx).min(w - 1), (2 * cy + dy).min(h - 1));
                acc = (acc.0 + r / 4.0, acc.1 + g / 4.0, acc.2 + b / 4.0);
            }
            let (r, g, b) = acc;
            u[cy * cw + cx] = (128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b).round().clamp(0.0, 255.0) as u8;
            v[cy * cw + cx] = (128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b).round().clamp(0.0, 255.0) as u8;
        }
    }
    (y, u, v)
}

fn to_rgb(y: &[u8], u: &[u8], v: &[u8], w: usize, h: usize) -> Vec<f32> {
    let cw = w.div_ceil(2);
    let mut out = vec![0f32; w * h * 3];
    for yy in 0..h {
        for x in 0..w {
            let l = y[yy * w + x] as f32;
            let cb = u[(yy / 2) * cw + x / 2] as f32 - 128.0;
            let cr = v[(yy / 2) * cw + x / 2] as f32 - 128.0;
            out[(yy * w + x) * 3] = l + 1.402 * cr;
            out[(yy * w + x) * 3 + 1] = l - 0.344136 * cb - 0.714136 * cr;
            out[(yy * w + x) * 3 + 2] = l + 1.772 * cb;
        }
    }
    out
}

#[test]
fn yuv_frames_round_trip_to_the_photo_protection_within_rounding() {
    let n = noise(16);
    let (w, h) = (321usize, 241usize); // odd sizes: partial chroma blocks
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y0, u0, v0) = to_yuv420(&picture(w, h), w, h);
    let clean_rgb = to_rgb(&y0, &u0, &v0, w, h);
    // photo path on the clean frame's RGB
    let clean8: Vec<u8> = clean_rgb.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect();
    let mut prot8 = clean8.clone();
    apply_noise(&n, &mut prot8, w as u32, h as u32, w * 3, PixelLayout::Rgb8).unwrap();
    let want: Vec<f32> = prot8.iter().zip(&clean8).map(|(a, b)| *a as f32 - *b as f32).collect();

    let check = |y: &[u8], u: &[u8], v: &[u8], what: &str| {
        let got = to_rgb(y, u, v, w, h);
        let (mut sum, mut max, mut cnt) = (0f64, 0f32, 0usize);
        for i in 0..got.len() {
            let c = clean_rgb[i];
            if !(12.0..=243.0).contains(&c) {
                continue; // near-saturated samples clip differently in RGB and YUV
            }
            let e = ((got[i] - c) - want[i]).abs();
            sum += e as f64;
            max = max.max(e);
            cnt += 1;
        }
        let mean = sum / cnt as f64;
        assert!(mean < 0.75 && max < 5.0, "{what}: change differs from the photo path by mean {mean:.3}, max {max:.2} levels");
        mean
    };

    // I420
    let (mut y, mut u, mut v) = (y0.clone(), u0.clone(), v0.clone());
    FrameProtector::new(n.clone())
        .protect(
            FrameData::Planar {
                y: Plane { data: &mut y, row_stride: w, pixel_stride: 1 },
                u: Plane { data: &mut u, row_stride: cw, pixel_stride: 1 },
                v: Plane { data: &mut v, row_stride: cw, pixel_stride: 1 },
                range: YuvRange::Full,
            },
            w as u32,
            h as u32,
            Rotation::Deg0,
        )
        .unwrap();
    let mean = check(&y, &u, &v, "I420");
    eprintln!("I420 round trip vs photo path: mean |error| {mean:.3} levels");
    let i420 = (y.clone(), u.clone(), v.clone());

    // NV21 and NV12 with padded rows give the same planes
    for v_first in [true, false] {
        let ys = w + 13;
        let uvs = 2 * cw + 6;
        let mut yb = vec![0u8; ys * h];
        let mut uv = vec![0u8; uvs * ch];
        for r in 0..h {
            yb[r * ys..r * ys + w].copy_from_slice(&y0[r * w..r * w + w]);
        }
        for r in 0..ch {
            for c in 0..cw {
                let (a, b) = if v_first { (v0[r * cw + c], u0[r * cw + c]) } else { (u0[r * cw + c], v0[r * cw + c]) };
                uv[r * uvs + 2 * c] = a;
                uv[r * uvs + 2 * c + 1] = b;
            }
        }
        FrameProtector::new(n.clone())
            .protect(
                FrameData::SemiPlanar { y: Plane { data: &mut yb, row_stride: ys, pixel_stride: 1 }, uv: Plane { data: &mut uv, row_stride: uvs, pixel_stride: 2 }, v_first, range: YuvRange::Full },
                w as u32,
                h as u32,
                Rotation::Deg0,
            )
            .unwrap();
        for r in 0..h {
            assert_eq!(&yb[r * ys..r * ys + w], &i420.0[r * w..r * w + w]);
            assert!(yb[r * ys + w..(r + 1) * ys].iter().all(|&b| b == 0), "row padding untouched");
        }
        for r in 0..ch {
            for c in 0..cw {
                let (pu, pv) = if v_first { (uv[r * uvs + 2 * c + 1], uv[r * uvs + 2 * c]) } else { (uv[r * uvs + 2 * c], uv[r * uvs + 2 * c + 1]) };
                assert_eq!((pu, pv), (i420.1[r * cw + c], i420.2[r * cw + c]), "NV{} chroma at {c},{r}", if v_first { 21 } else { 12 });
            }
        }
    }

    // limited range: smaller steps
    let (mut y, mut u, mut v) = (y0.clone(), u0.clone(), v0.clone());
    FrameProtector::new(n.clone())
        .protect(
            FrameData::Planar {
                y: Plane { data: &mut y, row_stride: w, pixel_stride: 1 },
                u: Plane { data: &mut u, row_stride: cw, pixel_stride: 1 },
                v: Plane { data: &mut v, row_stride: cw, pixel_stride: 1 },
                range: YuvRange::Limited,
            },
            w as u32,
            h as u32,
            Rotation::Deg0,
        )
        .unwrap();
    let full: i64 = i420.0.iter().zip(&y0).map(|(a, b)| (*a as i64 - *b as i64).abs()).sum();
    let lim: i64 = y.iter().zip(&y0).map(|(a, b)| (*a as i64 - *b as i64).abs()).sum();
    let ratio = lim as f64 / full as f64;
    assert!((ratio - 219.0 / 255.0).abs() < 0.05, "limited/full luma change ratio {ratio}");
}

#[test]
fn formats_strides_and_bad_sizes() {
    let n = noise(8);
    let mut fp = FrameProtector::new(n.clone());
    // BGRA with padded stride equals RGB
    let (w, h) = (33usize, 20usize);
    let clean = picture(w, h);
    let mut rgb = clean.clone();
    fp.protect(FrameData::Packed { data: &mut rgb, stride: w * 3, layout: PixelLayout::Rgb8 }, w as u32, h as u32, Rotation::Deg90).unwrap();
    let stride = w * 4 + 8;
    let mut bgra = vec![7u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                bgra[y * stride + x * 4 + 2 - c] = clean[(y * w + x) * 3 + c];
            }
        }
    }
    fp.protect(FrameData::Packed { data: &mut bgra, stride, layout: PixelLayout::Bgra8 }, w as u32, h as u32, Rotation::Deg90).unwrap();
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                assert_eq!(bgra[y * stride + x * 4 + 2 - c], rgb[(y * w + x) * 3 + c]);
            }
            assert_eq!(bgra[y * stride + x * 4 + 3], 7);
        }
    }
    // bad sizes are errors, never panics
    let mut small = vec![0u8; 10];
    let e = fp.protect(FrameData::Packed { data: &mut small, stride: w * 3, layout: PixelLayout::Rgb8 }, w as u32, h as u32, Rotation::Deg0);
    assert!(matches!(e, Err(Error::InvalidBuffer { .. })));
    let (mut y, mut uv) = (vec![0u8; 64 * 48], vec![0u8; 64 * 24 - 1]);
    let e = fp.protect(
        FrameData::SemiPlanar { y: Plane { data: &mut y, row_stride: 64, pixel_stride: 1 }, uv: Plane { data: &mut uv, row_stride: 64, pixel_stride: 2 }, v_first: true, range: YuvRange::Full },
        64,
        48,
        Rotation::Deg0,
    );
    assert!(matches!(e, Err(Error::InvalidBuffer { .. })), "{e:?}");
    let (mut y, mut u, mut v) = (vec![0u8; 64 * 48], vec![0u8; 32 * 24], vec![0u8; 32 * 24]);
    for (ys, ps) in [(63usize, 1usize), (64, 0)] {
        let e = fp.protect(
            FrameData::Planar {
                y: Plane { data: &mut y, row_stride: ys, pixel_stride: ps },
                u: Plane { data: &mut u, row_stride: 32, pixel_stride: 1 },
                v: Plane { data: &mut v, row_stride: 32, pixel_stride: 1 },
                range: YuvRange::Full,
            },
            64,
            48,
            Rotation::Deg0,
        );
        assert!(matches!(e, Err(Error::InvalidBuffer { .. })), "{e:?}");
    }
    assert!(matches!(fp.protect(FrameData::Packed { data: &mut small, stride: 3, layout: PixelLayout::Rgb8 }, 0, 1, Rotation::Deg0), Err(Error::InvalidBuffer { .. })));
    assert!(Rotation::from_degrees(45).is_err());
    assert_eq!(Rotation::from_degrees(-90).unwrap(), Rotation::Deg270);
    // a 1x1 frame in every format
    let mut p = [100u8; 4];
    fp.protect(FrameData::Packed { data: &mut p, stride: 4, layout: PixelLayout::Rgba8 }, 1, 1, Rotation::Deg0).unwrap();
    let (mut y, mut uv) = ([100u8; 1], [128u8; 2]);
    fp.protect(FrameData::SemiPlanar { y: Plane { data: &mut y, row_stride: 1, pixel_stride: 1 }, uv: Plane { data: &mut uv, row_stride: 2, pixel_stride: 2 }, v_first: false, range: YuvRange::Full }, 1, 1, Rotation::Deg180).unwrap();
}

#[test]
fn no_allocation_per_frame_once_the_geometry_is_cached() {
    let n = noise(16);
    let (w, h) = (640usize, 480usize);
    let (cw, ch) = (w / 2, h / 2);
    let (mut y, mut uv) = (vec![90u8; w * h], vec![128u8; cw * ch * 2]);
    let mut rgba = vec![90u8; w * h * 4];
    let mut fp = FrameProtector::new(n);
    let nv21 = |fp: &mut FrameProtector, y: &mut [u8], uv: &mut [u8]| {
        fp.protect(
            FrameData::SemiPlanar { y: Plane { data: y, row_stride: w, pixel_stride: 1 }, uv: Plane { data: uv, row_stride: w, pixel_stride: 2 }, v_first: true, range: YuvRange::Full },
            w as u32,
            h as u32,
            Rotation::Deg90,
        )
        .unwrap();
    };
    nv21(&mut fp, &mut y, &mut uv); // first frame: prepares
    assert!(fp.is_cached_for(w as u32, h as u32, Rotation::Deg90));
    let before = allocs();
    for _ in 0..5 {
        nv21(&mut fp, &mut y, &mut uv);
    }
    let during = allocs() - before;
    assert_eq!(during, 0, "{during} allocations in 5 cached NV21 frames");
    let mut rgba_frame = |fp: &mut FrameProtector| {
        fp.protect(FrameData::Packed { data: &mut rgba, stride: w * 4, layout: PixelLayout::Rgba8 }, w as u32, h as u32, Rotation::Deg0).unwrap();
    };
    rgba_frame(&mut fp);
    let before = allocs();
    rgba_frame(&mut fp);
    rgba_frame(&mut fp);
    assert_eq!(allocs() - before, 0, "allocations in cached RGBA frames");
}
