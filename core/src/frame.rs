//! Camera frames: a cached noise applied in place to packed RGB(A)/BGRA frames and YUV 4:2:0
//! frames (NV21, NV12, I420) with row and pixel strides, any size, any rotation. After the first
//! frame of a geometry nothing is allocated per frame.
//!
//! YUV: the noise is made in RGB and mapped into YUV with the BT.601 matrix (full range, as
//! camera JPEG pipelines use, or limited range), luma at full resolution and chroma averaged over
//! each 2x2 block, so converting the protected frame back to RGB gives the photo path's
//! protection within rounding and chroma subsampling.
//!
//! Rotation is the clockwise turn that makes the buffer upright (Android's
//! `ImageInfo.rotationDegrees`, the EXIF idea for frames): the noise is placed as it would be on
//! the upright picture, so a frame and the photo taken from it carry the same protection.

use crate::error::{Error, Result};
use crate::noise::Noise;
use crate::placement::{centred_offset, psnr, round_small, ApplyStats, PixelLayout, Prepared};

/// The clockwise rotation that makes a buffer upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    #[default]
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

impl Rotation {
    /// From degrees (0, 90, 180, 270; other multiples of 90 are reduced).
    pub fn from_degrees(deg: i32) -> Result<Rotation> {
        match deg.rem_euclid(360) {
            0 => Ok(Rotation::Deg0),
            90 => Ok(Rotation::Deg90),
            180 => Ok(Rotation::Deg180),
            270 => Ok(Rotation::Deg270),
            _ => Err(Error::InvalidArgument { name: "rotation", reason: format!("{deg} is not a multiple of 90 degrees") }),
        }
    }
}

/// YUV value range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum YuvRange {
    /// Y, U, V in 0..=255 (JFIF; Android camera YUV_420_888, iOS `...FullRange`).
    #[default]
    Full,
    /// Y in 16..=235, U and V in 16..=240 (BT.601 "video" range, iOS `...VideoRange`).
    Limited,
}

/// One image plane: bytes, the distance between rows and between neighbouring samples.
#[derive(Debug)]
pub struct Plane<'a> {
    pub data: &'a mut [u8],
    pub row_stride: usize,
    pub pixel_stride: usize,
}

/// A frame's pixel memory.
#[derive(Debug)]
pub enum FrameData<'a> {
    /// One plane of packed pixels (RGB8, RGBA8, BGRA8); `stride` bytes per row.
    Packed { data: &'a mut [u8], stride: usize, layout: PixelLayout },
    /// Three planes Y, U, V (I420, or Android YUV_420_888 with chroma pixel stride 1).
    Planar { y: Plane<'a>, u: Plane<'a>, v: Plane<'a>, range: YuvRange },
    /// Y plus one interleaved chroma plane: NV12 (U first) or NV21 (`v_first`, Android's
    /// camera default). `uv.pixel_stride` is normally 2.
    SemiPlanar { y: Plane<'a>, uv: Plane<'a>, v_first: bool, range: YuvRange },
}

/// What a cached placement was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Packed(PixelLayout),
    Yuv(YuvRange),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    width: u32,
    height: u32,
    rotation: Rotation,
    kind: Kind,
}

/// Cached placements: one table for packed pixels, or luma + interleaved (U, V) tables for YUV.
struct Cached {
    key: Key,
    main: Prepared,
    chroma: Option<Prepared>,
}

/// A noise ready for frames: keep one per caption/key and call [`FrameProtector::protect`] for
/// every frame. The placement for the last frame geometry is cached.
pub struct FrameProtector {
    noise: Noise,
    cache: Option<Cached>,
    pattern: Vec<i8>,
    rowf: Vec<f32>,
    rowf2: Vec<f32>,
    du: Vec<i8>,
    dv: Vec<i8>,
}

impl std::fmt::Debug for FrameProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameProtector").field("noise", &self.noise).field("cached", &self.cache.as_ref().map(|c| c.key)).finish()
    }
}

impl FrameProtector {
    pub fn new(noise: Noise) -> FrameProtector {
        FrameProtector { noise, cache: None, pattern: Vec::new(), rowf: Vec::new(), rowf2: Vec::new(), du: Vec::new(), dv: Vec::new() }
    }

    /// The noise this protector applies.
    pub fn noise(&self) -> &Noise {
        &self.noise
    }

    /// True when the last call reused the cached placement (same size, rotation and format kind).
    pub fn is_cached_for(&self, width: u32, height: u32, rotation: Rotation) -> bool {
        self.cache.as_ref().is_some_and(|c| c.key.width == width && c.key.height == height && c.key.rotation == rotation)
    }

    fn prepare(&mut self, width: u32, height: u32, rotation: Rotation, kind: Kind) {
        let key = Key { width, height, rotation, kind };
        if self.cache.as_ref().map(|c| c.key) == Some(key) {
            return;
        }
        let (w, h) = (width as usize, height as usize);
        let (wu, hu) = match rotation {
            Rotation::Deg0 | Rotation::Deg180 => (w, h),
            Rotation::Deg90 | Rotation::Deg270 => (h, w),
        };
        let s = w.min(h);
        let (x0u, y0u) = (centred_offset(wu, s), centred_offset(hu, s));
        let r = self.noise.resolution as usize;
        let src = &self.noise.data;
        let plane = r * r;
        // noise_b[c][j][i]: the noise as seen in buffer coordinates (j along buffer rows).
        let at = |c: usize, j: usize, i: usize| -> f32 {
            match rotation {
                Rotation::Deg0 => src[c * plane + j * r + i],
                Rotation::Deg180 => src[c * plane + (r - 1 - j) * r + (r - 1 - i)],
                Rotation::Deg90 => src[c * plane + i * r + (r - 1 - j)],
                Rotation::Deg270 => src[c * plane + (r - 1 - i) * r + j],
            }
        };
        let mut data = vec![0f32; 3 * plane];
        for c in 0..3 {
            for j in 0..r {
                for i in 0..r {
                    data[c * plane + j * r + i] = at(c, j, i);
                }
            }
        }
        let (x_off, y_off) = match rotation {
            Rotation::Deg0 => (x0u, y0u),
            Rotation::Deg180 => (w - s - x0u, h - s - y0u),
            Rotation::Deg90 => (y0u, h - s - x0u),
            Rotation::Deg270 => (w - s - y0u, x0u),
        };
        let prep = |mix: &[[f32; 3]]| Prepared::new(&data, r, w, h, x_off, y_off, mix);
        let (main, chroma) = match kind {
            Kind::Packed(layout) => (prep(&layout.mix()), None),
            Kind::Yuv(range) => {
                let (ky, kc) = match range {
                    YuvRange::Full => (1.0f32, 1.0f32),
                    YuvRange::Limited => (219.0 / 255.0, 224.0 / 255.0),
                };
                let y = [ky * 0.299, ky * 0.587, ky * 0.114];
                let u = [kc * -0.168_736, kc * -0.331_264, kc * 0.5];
                let v = [kc * 0.5, kc * -0.418_688, kc * -0.081_312];
                (prep(&[y]), Some(prep(&[u, v])))
            }
        };
        self.pattern.resize(s * 4, 0);
        self.rowf.resize(s * 2, 0.0);
        self.rowf2.resize(s * 2, 0.0);
        self.du.resize(w.div_ceil(2), 0);
        self.dv.resize(w.div_ceil(2), 0);
        self.cache = Some(Cached { key, main, chroma });
    }

    /// Apply the noise in place to one frame of `width x height` pixels (buffer orientation).
    pub fn protect(&mut self, frame: FrameData<'_>, width: u32, height: u32, rotation: Rotation) -> Result<ApplyStats> {
        if width == 0 || height == 0 {
            return Err(Error::buffer(format!("width and height must be positive, got {width}x{height}")));
        }
        let (w, h) = (width as usize, height as usize);
        match frame {
            FrameData::Packed { data, stride, layout } => {
                let need = crate::placement::required_len(width, height, stride, layout)?;
                if data.len() < need {
                    return Err(Error::buffer(format!("{width}x{height} {layout:?} frame with stride {stride} needs {need} bytes, got {}", data.len())));
                }
                self.prepare(width, height, rotation, Kind::Packed(layout));
                let prep = &self.cache.as_ref().expect("prepared").main;
                let mut pattern = std::mem::take(&mut self.pattern);
                let (max, sum) = prep.apply_packed(data, stride, &mut pattern[..prep.s * prep.lanes]);
                self.pattern = pattern;
                let samples = (w * h * 3) as u64;
                Ok(ApplyStats { max_abs_change: max, psnr_db: psnr(sum, samples), samples })
            }
            FrameData::Planar { y, u, v, range } => {
                check_plane("Y", &y, w, h)?;
                check_plane("U", &u, w.div_ceil(2), h.div_ceil(2))?;
                check_plane("V", &v, w.div_ceil(2), h.div_ceil(2))?;
                self.prepare(width, height, rotation, Kind::Yuv(range));
                self.apply_yuv(y, Chroma::Planar { u, v })
            }
            FrameData::SemiPlanar { y, uv, v_first, range } => {
                check_plane("Y", &y, w, h)?;
                if uv.pixel_stride < 2 {
                    return Err(Error::buffer(format!("interleaved chroma needs a pixel stride of at least 2, got {}", uv.pixel_stride)));
                }
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let need = (ch - 1) * uv.row_stride + (cw - 1) * uv.pixel_stride + 2;
                if uv.row_stride < (cw - 1) * uv.pixel_stride + 2 || uv.data.len() < need {
                    return Err(Error::buffer(format!(
                        "interleaved chroma plane ({cw}x{ch} pairs, row stride {}, pixel stride {}) needs {need} bytes, got {}",
                        uv.row_stride,
                        uv.pixel_stride,
                        uv.data.len()
                    )));
                }
                self.prepare(width, height, rotation, Kind::Yuv(range));
                let (uo, vo) = if v_first { (1, 0) } else { (0, 1) };
                self.apply_yuv(y, Chroma::Interleaved { uv, u_off: uo, v_off: vo })
            }
        }
    }

    fn apply_yuv(&mut self, y: Plane<'_>, mut chroma: Chroma<'_>) -> Result<ApplyStats> {
        let cached = self.cache.as_ref().expect("prepared");
        let (luma, uvp) = (&cached.main, cached.chroma.as_ref().expect("YUV has a chroma table"));
        let (w, h, s) = (luma.w, luma.h, luma.s);
        let (mut max, mut sum) = (0u8, 0u64);
        let pattern = &mut self.pattern[..s];
        // Luma: the prepared rows already hold delta-Y per tile pixel.
        let mut last_v = usize::MAX;
        for yy in 0..h {
            let v = luma.tile_row(yy);
            if v != last_v {
                luma.row_i8(v, pattern);
                last_v = v;
            }
            let row = &mut y.data[yy * y.row_stride..];
            let (m, sq) = if y.pixel_stride == 1 {
                luma.add_row(&mut row[..w], pattern, w, 1)
            } else {
                add_row_strided(luma.u_start(), s, row, y.pixel_stride, pattern, w)
            };
            max = max.max(m);
            sum += sq;
        }
        // Chroma: (delta-U, delta-V) averaged over each 2x2 block.
        let (cw, chh) = (w.div_ceil(2), h.div_ceil(2));
        let (du, dv) = (&mut self.du[..cw], &mut self.dv[..cw]);
        let (ra, rb) = (&mut self.rowf[..2 * s], &mut self.rowf2[..2 * s]);
        for cy in 0..chh {
            let y0 = 2 * cy;
            let y1 = (y0 + 1).min(h - 1);
            uvp.row_f32(uvp.tile_row(y0), ra);
            uvp.row_f32(uvp.tile_row(y1), rb);
            let mut ua = uvp.u_start();
            for cx in 0..cw {
                let last = 2 * cx + 1 >= w;
                let ub = if last { ua } else if ua + 1 == s { 0 } else { ua + 1 };
                let uu = 0.25 * (ra[2 * ua] + ra[2 * ub] + rb[2 * ua] + rb[2 * ub]);
                let vv = 0.25 * (ra[2 * ua + 1] + ra[2 * ub + 1] + rb[2 * ua + 1] + rb[2 * ub + 1]);
                du[cx] = round_small(uu);
                dv[cx] = round_small(vv);
                ua = if ub + 1 == s { 0 } else { ub + 1 };
            }
            match &mut chroma {
                Chroma::Planar { u, v } => {
                    add_samples(&mut u.data[cy * u.row_stride..], u.pixel_stride, du);
                    add_samples(&mut v.data[cy * v.row_stride..], v.pixel_stride, dv);
                }
                Chroma::Interleaved { uv, u_off, v_off } => {
                    let row = &mut uv.data[cy * uv.row_stride..];
                    add_samples(&mut row[*u_off..], uv.pixel_stride, du);
                    add_samples(&mut row[*v_off..], uv.pixel_stride, dv);
                }
            }
        }
        let samples = (w * h) as u64;
        Ok(ApplyStats { max_abs_change: max, psnr_db: psnr(sum, samples), samples })
    }
}

enum Chroma<'a> {
    Planar { u: Plane<'a>, v: Plane<'a> },
    Interleaved { uv: Plane<'a>, u_off: usize, v_off: usize },
}

fn check_plane(name: &str, p: &Plane<'_>, w: usize, h: usize) -> Result<()> {
    if p.pixel_stride == 0 {
        return Err(Error::buffer(format!("{name} plane: pixel stride must be positive")));
    }
    let row = (w - 1) * p.pixel_stride + 1;
    if p.row_stride < row {
        return Err(Error::buffer(format!("{name} plane: row stride {} is shorter than a row ({row} bytes)", p.row_stride)));
    }
    let need = (h - 1) * p.row_stride + row;
    if p.data.len() < need {
        return Err(Error::buffer(format!("{name} plane ({w}x{h}, row stride {}, pixel stride {}) needs {need} bytes, got {}", p.row_stride, p.pixel_stride, p.data.len())));
    }
    Ok(())
}

fn add_row_strided(u_start: usize, s: usize, row: &mut [u8], stride: usize, pattern: &[i8], n: usize) -> (u8, u64) {
    let (mut u, mut max, mut sum) = (u_start, 0u8, 0u64);
    for x in 0..n {
        let px = &mut row[x * stride];
        let old = *px as i16;
        let new = (old + pattern[u] as i16).clamp(0, 255);
        let ch = (new - old).unsigned_abs() as u8;
        max = max.max(ch);
        sum += (ch as u64) * (ch as u64);
        *px = new as u8;
        u += 1;
        if u == s {
            u = 0;
        }
    }
    (max, sum)
}

fn add_samples(data: &mut [u8], stride: usize, deltas: &[i8]) {
    for (i, &d) in deltas.iter().enumerate() {
        let px = &mut data[i * stride];
        *px = (*px as i16 + d as i16).clamp(0, 255) as u8;
    }
}
