//! `cargo bench -p t2ue --bench frames`: camera frame hooks against memcpy of the same frame,
//! measured in the same run; cache hit (steady state) vs miss (first frame of a geometry).
//! Needs no bundle: the noise is a fixed synthetic 64x64 one (placement cost does not depend on
//! its values). Prints figures, asserts nothing.

use std::time::Instant;

use t2ue::{FrameData, FrameProtector, Noise, PixelLayout, Plane, Rotation, YuvRange};

fn noise() -> Noise {
    let r = 64u32;
    let eps = 8.0 / 255.0;
    let v = (0..3 * r * r).map(|i| (((i as u64 * 2654435761) >> 9) % 1000) as f32 / 999.0 * 2.0 * eps - eps).collect();
    Noise::from_values(r, eps, v, "bench").unwrap()
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[derive(Clone, Copy)]
enum Fmt {
    Rgba,
    Bgra,
    Rgb,
    Nv21,
    Nv12,
    I420,
}

fn frame_bytes(f: Fmt, w: usize, h: usize) -> usize {
    match f {
        Fmt::Rgba | Fmt::Bgra => w * h * 4,
        Fmt::Rgb => w * h * 3,
        _ => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
    }
}

fn run(fp: &mut FrameProtector, f: Fmt, buf: &mut [u8], w: usize, h: usize, rot: Rotation) {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let frame = match f {
        Fmt::Rgba | Fmt::Bgra | Fmt::Rgb => {
            let layout = match f {
                Fmt::Rgba => PixelLayout::Rgba8,
                Fmt::Bgra => PixelLayout::Bgra8,
                _ => PixelLayout::Rgb8,
            };
            FrameData::Packed { stride: w * layout.bytes_per_pixel(), data: buf, layout }
        }
        Fmt::Nv21 | Fmt::Nv12 => {
            let (y, uv) = buf.split_at_mut(w * h);
            FrameData::SemiPlanar { y: Plane { data: y, row_stride: w, pixel_stride: 1 }, uv: Plane { data: uv, row_stride: 2 * cw, pixel_stride: 2 }, v_first: matches!(f, Fmt::Nv21), range: YuvRange::Full }
        }
        Fmt::I420 => {
            let (y, rest) = buf.split_at_mut(w * h);
            let (u, v) = rest.split_at_mut(cw * ch);
            FrameData::Planar {
                y: Plane { data: y, row_stride: w, pixel_stride: 1 },
                u: Plane { data: u, row_stride: cw, pixel_stride: 1 },
                v: Plane { data: v, row_stride: cw, pixel_stride: 1 },
                range: YuvRange::Full,
            }
        }
    };
    fp.protect(frame, w as u32, h as u32, rot).unwrap();
}

fn main() {
    let n = noise();
    println!("frame hooks, 1 thread, p50 of 20 frames (ms); memcpy of the same bytes in the same run");
    println!("{:<8} {:<10} {:>9} {:>9} {:>7} {:>11}", "format", "size", "protect", "memcpy", "ratio", "first frame");
    for (label, w, h) in [("1080p", 1920usize, 1080usize), ("4K", 3840, 2160)] {
        for (name, f) in [("RGBA", Fmt::Rgba), ("BGRA", Fmt::Bgra), ("RGB", Fmt::Rgb), ("NV21", Fmt::Nv21), ("NV12", Fmt::Nv12), ("I420", Fmt::I420)] {
            let len = frame_bytes(f, w, h);
            let src: Vec<u8> = (0..len).map(|i| (i * 37 % 253) as u8).collect();
            let mut buf = src.clone();
            let mut dst = vec![0u8; len];
            let mut fp = FrameProtector::new(n.clone());
            let t = Instant::now();
            run(&mut fp, f, &mut buf, w, h, Rotation::Deg90); // miss: prepares the geometry
            let first = t.elapsed().as_secs_f64() * 1e3;
            let (mut prot, mut copy) = (Vec::new(), Vec::new());
            for _ in 0..20 {
                let t = Instant::now();
                run(&mut fp, f, &mut buf, w, h, Rotation::Deg90);
                prot.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&dst);
                copy.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (p, c) = (p50(prot), p50(copy));
            println!("{name:<8} {label:<10} {p:>9.2} {c:>9.2} {:>6.1}x {first:>10.2}", p / c);
        }
    }
}
