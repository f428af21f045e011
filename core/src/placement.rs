//! Placing a noise on pixels of any size, in one fused pass with O(width) scratch memory.
//!
//! A scraper resizes a photo's shorter side to R and crops. So the R x R noise is scaled to the
//! photo's shorter side s, centred, and repeated periodically over the rest: the centre crop sees
//! the noise exactly as made, other crops see it cyclically shifted. Sampling is bilinear with
//! wrap-around (pixel centres aligned, `(u + 0.5) * R / s - 0.5`), so the tiling has no seams.
//! Each output row gets an 8-bit pattern of one tile width (`255 * delta` rounded, ties to even), which is then
//! added with saturation; no full-resolution float buffer exists at any time.

use crate::error::{Error, Result};
use crate::noise::Noise;

/// How pixels are laid out in a raw buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelLayout {
    /// 3 bytes a pixel: R, G, B.
    Rgb8,
    /// 4 bytes a pixel: R, G, B, A (alpha is never changed).
    Rgba8,
    /// 4 bytes a pixel: B, G, R, A (alpha is never changed).
    Bgra8,
}

impl PixelLayout {
    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelLayout::Rgb8 => 3,
            PixelLayout::Rgba8 | PixelLayout::Bgra8 => 4,
        }
    }
    /// How each byte of a pixel mixes the noise's R, G, B (a permutation, alpha gets nothing).
    pub(crate) fn mix(self) -> Vec<[f32; 3]> {
        const R: [f32; 3] = [1.0, 0.0, 0.0];
        const G: [f32; 3] = [0.0, 1.0, 0.0];
        const B: [f32; 3] = [0.0, 0.0, 1.0];
        const A: [f32; 3] = [0.0, 0.0, 0.0];
        match self {
            PixelLayout::Rgb8 => vec![R, G, B],
            PixelLayout::Rgba8 => vec![R, G, B, A],
            PixelLayout::Bgra8 => vec![B, G, R, A],
        }
    }
}

/// What applying a noise did to the pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplyStats {
    /// Largest change of any colour sample, in 8-bit levels.
    pub max_abs_change: u8,
    /// Peak signal-to-noise ratio of protected vs original, in dB over the colour samples
    /// (alpha excluded); infinite when nothing changed.
    pub psnr_db: f64,
    /// Colour samples looked at (width x height x 3).
    pub samples: u64,
}

/// Check a raw buffer's geometry and return the minimum length it must have.
pub fn required_len(width: u32, height: u32, stride: usize, layout: PixelLayout) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::buffer(format!("width and height must be positive, got {width}x{height}")));
    }
    let row = (width as usize)
        .checked_mul(layout.bytes_per_pixel())
        .ok_or_else(|| Error::buffer("width overflows"))?;
    if stride < row {
        return Err(Error::buffer(format!("row stride {stride} is smaller than a row of {width} {layout:?} pixels ({row} bytes)")));
    }
    stride
        .checked_mul(height as usize - 1)
        .and_then(|v| v.checked_add(row))
        .ok_or_else(|| Error::buffer("height x stride overflows"))
}

/// One axis of the placement: for each output coordinate's tile position u in [0, s), the two
/// noise indices and the weight of the second.
pub(crate) struct AxisTable {
    pub(crate) i0: Vec<u32>,
    pub(crate) i1: Vec<u32>,
    pub(crate) w: Vec<f32>,
}

impl AxisTable {
    fn new(s: usize, r: usize) -> AxisTable {
        let mut t = AxisTable { i0: Vec::with_capacity(s), i1: Vec::with_capacity(s), w: Vec::with_capacity(s) };
        let scale = r as f64 / s as f64;
        for u in 0..s {
            let f = (u as f64 + 0.5) * scale - 0.5;
            let fl = f.floor();
            let i0 = (fl as i64).rem_euclid(r as i64) as u32;
            t.i0.push(i0);
            t.i1.push((i0 + 1) % r as u32);
            t.w.push((f - fl) as f32);
        }
        t
    }
}

/// Offset of the centred tile on an axis of length `len` with tile side `s`.
pub(crate) fn centred_offset(len: usize, s: usize) -> usize {
    (len - s) / 2
}

/// A noise prepared for one buffer geometry: the tile side, where tile coordinate 0 falls, and
/// each of the R noise rows interpolated horizontally to one tile width, scaled to 8-bit levels,
/// as `lanes` values per pixel, each a linear mix of the noise's R, G, B (an RGBA layout is the
/// identity with a zero alpha lane; YUV luma is the BT.601 row). Interpolation and the mix are
/// both linear, so mixing once here equals mixing every output pixel.
/// Memory: R x s x lanes floats. Reusable for every frame of the same geometry.
pub(crate) struct Prepared {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) s: usize,
    pub(crate) lanes: usize,
    u_start: usize,
    v_start: usize,
    table: AxisTable,
    hrows: Vec<f32>,
}

impl Prepared {
    /// `data` is a 3 x r x r noise (already turned to the buffer's orientation); the tile's
    /// top-left corner sits at (`x_off`, `y_off`) in buffer pixels.
    pub(crate) fn new(data: &[f32], r: usize, w: usize, h: usize, x_off: usize, y_off: usize, mix: &[[f32; 3]]) -> Prepared {
        let s = w.min(h);
        let lanes = mix.len();
        let table = AxisTable::new(s, r);
        let plane = r * r;
        let row_len = s * lanes;
        let mut hrows = vec![0f32; r * row_len];
        for j in 0..r {
            let dst = &mut hrows[j * row_len..(j + 1) * row_len];
            for u in 0..s {
                let (i0, i1, wx) = (table.i0[u] as usize, table.i1[u] as usize, table.w[u]);
                let mut rgb = [0f32; 3];
                for (c, v) in rgb.iter_mut().enumerate() {
                    let src = &data[c * plane + j * r..c * plane + j * r + r];
                    *v = 255.0 * (src[i0] + (src[i1] - src[i0]) * wx);
                }
                for (l, m) in mix.iter().enumerate() {
                    // skip zero terms so identity lanes are exact copies
                    let mut acc = 0f32;
                    for c in 0..3 {
                        if m[c] != 0.0 {
                            acc += m[c] * rgb[c];
                        }
                    }
                    dst[u * lanes + l] = acc;
                }
            }
        }
        Prepared { w, h, s, lanes, u_start: (s - x_off % s) % s, v_start: (s - y_off % s) % s, table, hrows }
    }

    /// Tile column of buffer column 0.
    pub(crate) fn u_start(&self) -> usize {
        self.u_start
    }

    /// Tile row of buffer row `y`.
    pub(crate) fn tile_row(&self, y: usize) -> usize {
        (self.v_start + y) % self.s
    }

    /// The noise (8-bit levels, lane layout) along one tile row, as floats: `out.len() == s * lanes`.
    pub(crate) fn row_f32(&self, v: usize, out: &mut [f32]) {
        let (a, b, wy) = self.rows(v);
        for ((o, &x0), &x1) in out.iter_mut().zip(a).zip(b) {
            *o = x0 + (x1 - x0) * wy;
        }
    }

    /// The same, rounded to whole levels.
    pub(crate) fn row_i8(&self, v: usize, out: &mut [i8]) {
        let (a, b, wy) = self.rows(v);
        for ((o, &x0), &x1) in out.iter_mut().zip(a).zip(b) {
            *o = round_small(x0 + (x1 - x0) * wy);
        }
    }

    fn rows(&self, v: usize) -> (&[f32], &[f32], f32) {
        let row_len = self.s * self.lanes;
        let (j0, j1, wy) = (self.table.i0[v] as usize, self.table.i1[v] as usize, self.table.w[v]);
        (&self.hrows[j0 * row_len..(j0 + 1) * row_len], &self.hrows[j1 * row_len..(j1 + 1) * row_len], wy)
    }

    /// Add a tile-width pattern (`lanes` bytes a pixel) along one buffer row of `n_px` pixels,
    /// repeating it with the tiling's phase.
    pub(crate) fn add_row(&self, row: &mut [u8], pattern: &[i8], n_px: usize, lanes: usize) -> (u8, u64) {
        let s = self.s;
        let (mut u, mut x, mut max, mut sum) = (self.u_start, 0, 0u8, 0u64);
        while x < n_px {
            let n = (s - u).min(n_px - x);
            let (m, sq) = add_saturating(&mut row[x * lanes..(x + n) * lanes], &pattern[u * lanes..(u + n) * lanes]);
            max = max.max(m);
            sum += sq;
            x += n;
            u = 0;
        }
        (max, sum)
    }

    /// Apply to a packed buffer whose lane layout this was prepared with; `pattern` is scratch
    /// of `s * lanes`. Returns the largest change and the sum of squared changes.
    pub(crate) fn apply_packed(&self, pixels: &mut [u8], stride: usize, pattern: &mut [i8]) -> (u8, u64) {
        let (mut max, mut sum, mut last_v) = (0u8, 0u64, usize::MAX);
        for y in 0..self.h {
            let v = self.tile_row(y);
            if v != last_v {
                self.row_i8(v, pattern);
                last_v = v;
            }
            let (m, sq) = self.add_row(&mut pixels[y * stride..y * stride + self.w * self.lanes], pattern, self.w, self.lanes);
            max = max.max(m);
            sum += sq;
        }
        (max, sum)
    }
}

pub(crate) fn psnr(sum_sq: u64, samples: u64) -> f64 {
    if sum_sq == 0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / (sum_sq as f64 / samples as f64)).log10()
    }
}

/// Apply `noise` in place to a raw 8-bit buffer of `width x height` pixels whose rows start
/// `stride` bytes apart. The buffer must hold at least [`required_len`] bytes.
pub fn apply_noise(noise: &Noise, pixels: &mut [u8], width: u32, height: u32, stride: usize, layout: PixelLayout) -> Result<ApplyStats> {
    let need = required_len(width, height, stride, layout)?;
    if pixels.len() < need {
        return Err(Error::buffer(format!(
            "{width}x{height} {layout:?} pixels with stride {stride} need {need} bytes, the buffer has {}",
            pixels.len()
        )));
    }
    let (w, h) = (width as usize, height as usize);
    let s = w.min(h);
    let bpp = layout.bytes_per_pixel();
    let prep = Prepared::new(&noise.data, noise.resolution as usize, w, h, centred_offset(w, s), centred_offset(h, s), &layout.mix());
    let mut pattern = vec![0i8; s * bpp];
    let (max_abs_change, sum_sq) = prep.apply_packed(pixels, stride, &mut pattern);
    let samples = (w * h * 3) as u64;
    Ok(ApplyStats { max_abs_change, psnr_db: psnr(sum_sq, samples), samples })
}

/// Round a value with |v| <= 127 to the nearest integer, ties to even. Adding 1.5 * 2^23 pushes
/// the fraction out of the f32 mantissa (the FPU rounds, ties to even), and the integer is read
/// back from the bits. Unlike `f32::round` (a libm call on baseline x86-64) or a saturating
/// `as` cast, this is a plain add and integer subtract, which vectorise: 8x faster here.
#[inline(always)]
pub(crate) fn round_small(v: f32) -> i8 {
    ((v + 12_582_912.0).to_bits() as i32 - 0x4B40_0000) as i8
}

/// `dst[k] = clamp(dst[k] + pat[k])`; returns the largest change and the sum of squared changes.
#[inline]
pub(crate) fn add_saturating(dst: &mut [u8], pat: &[i8]) -> (u8, u64) {
    let mut max = 0u8;
    let mut sum = 0u64;
    // Per-chunk sums stay in u32 (4096 * 127^2 < 2^32), which keeps the loop vectorisable.
    for (d, p) in dst.chunks_mut(4096).zip(pat.chunks(4096)) {
        let mut s32 = 0u32;
        for (px, &dv) in d.iter_mut().zip(p) {
            let old = *px as i16;
            let new = (old + dv as i16).clamp(0, 255);
            let ch = (new - old).unsigned_abs() as u8;
            max = max.max(ch);
            s32 += ch as u32 * ch as u32;
            *px = new as u8;
        }
        sum += s32 as u64;
    }
    (max, sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_from(r: u32, eps: f32, f: impl Fn(usize, usize, usize) -> f32) -> Noise {
        let ru = r as usize;
        let mut v = vec![0f32; 3 * ru * ru];
        for c in 0..3 {
            for y in 0..ru {
                for x in 0..ru {
                    v[c * ru * ru + y * ru + x] = f(c, y, x);
                }
            }
        }
        Noise::from_values(r, eps, v, "t").unwrap()
    }

    #[test]
    fn square_at_native_size_is_exact() {
        let eps = 8.0 / 255.0;
        let n = noise_from(8, eps, |c, y, x| ((c + y * 3 + x * 5) % 17) as f32 / 16.0 * 2.0 * eps - eps);
        let mut buf = vec![128u8; 8 * 8 * 3];
        let st = apply_noise(&n, &mut buf, 8, 8, 24, PixelLayout::Rgb8).unwrap();
        for c in 0..3 {
            for y in 0..8 {
                for x in 0..8 {
                    let want = 128 + (n.values()[c * 64 + y * 8 + x] * 255.0).round_ties_even() as i32;
                    assert_eq!(buf[(y * 8 + x) * 3 + c] as i32, want);
                }
            }
        }
        assert!(st.max_abs_change <= 8);
        assert!(st.psnr_db > 30.0);
    }

    #[test]
    fn integer_upscale_then_box_downscale_recovers_the_noise_closely() {
        let eps = 8.0 / 255.0;
        let n = noise_from(8, eps, |c, y, x| if (x + y + c) % 2 == 0 { eps } else { -eps } * 0.5 + 0.1 * eps * x as f32 / 8.0);
        let (w, h) = (40u32, 32u32); // s = 32 = 4 x 8, tile centred horizontally
        let mut buf = vec![100u8; (w * h * 3) as usize];
        apply_noise(&n, &mut buf, w, h, (w * 3) as usize, PixelLayout::Rgb8).unwrap();
        // box-downscale the centre square back to 8x8 and compare with the noise
        let x0 = 4usize;
        let mut err = 0f32;
        for c in 0..3 {
            for j in 0..8 {
                for i in 0..8 {
                    let mut acc = 0f32;
                    for dy in 0..4 {
                        for dx in 0..4 {
                            acc += buf[((j * 4 + dy) * w as usize + x0 + i * 4 + dx) * 3 + c] as f32 - 100.0;
                        }
                    }
                    err = err.max((acc / 16.0 / 255.0 - n.values()[c * 64 + j * 8 + i]).abs());
                }
            }
        }
        assert!(err < 0.5 * eps, "max error {err}");
    }

    #[test]
    fn rgba_alpha_untouched_and_bgra_matches_rgb() {
        let eps = 8.0 / 255.0;
        let n = noise_from(4, eps, |c, y, x| (c as f32 - 1.0) * eps * ((x + y) % 3) as f32 / 2.0);
        let (w, h) = (7u32, 5u32);
        let mut rgb = vec![50u8; (w * h * 3) as usize];
        apply_noise(&n, &mut rgb, w, h, (w * 3) as usize, PixelLayout::Rgb8).unwrap();
        let stride = (w * 4 + 3) as usize; // padded rows
        let mut rgba = vec![50u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                rgba[y * stride + x * 4 + 3] = 200;
            }
        }
        let mut bgra = rgba.clone();
        apply_noise(&n, &mut rgba, w, h, stride, PixelLayout::Rgba8).unwrap();
        apply_noise(&n, &mut bgra, w, h, stride, PixelLayout::Bgra8).unwrap();
        for y in 0..h as usize {
            for x in 0..w as usize {
                for c in 0..3 {
                    assert_eq!(rgba[y * stride + x * 4 + c], rgb[(y * w as usize + x) * 3 + c]);
                    assert_eq!(bgra[y * stride + x * 4 + 2 - c], rgb[(y * w as usize + x) * 3 + c]);
                }
                assert_eq!(rgba[y * stride + x * 4 + 3], 200);
                assert_eq!(bgra[y * stride + x * 4 + 3], 200);
            }
            // padding bytes untouched
            for p in w as usize * 4..stride {
                assert_eq!(rgba[y * stride + p], 50);
            }
        }
    }

    #[test]
    fn tiny_and_extreme_shapes_and_saturation() {
        let eps = 8.0 / 255.0;
        let n = noise_from(16, eps, |_, _, _| eps);
        for (w, h) in [(1u32, 1u32), (1, 500), (500, 1), (3, 1000)] {
            let mut buf = vec![255u8; (w * h * 3) as usize];
            let st = apply_noise(&n, &mut buf, w, h, (w * 3) as usize, PixelLayout::Rgb8).unwrap();
            assert_eq!(st.max_abs_change, 0, "saturated at 255");
            assert!(st.psnr_db.is_infinite());
            let mut buf = vec![0u8; (w * h * 3) as usize];
            let st = apply_noise(&n, &mut buf, w, h, (w * 3) as usize, PixelLayout::Rgb8).unwrap();
            assert_eq!(st.max_abs_change, 8);
            assert!(buf.iter().all(|&b| b == 8));
        }
    }

    #[test]
    fn round_small_matches_ties_even_rounding() {
        for i in -127_000..=127_000 {
            let v = i as f32 / 1000.0;
            assert_eq!(round_small(v) as f32, v.round_ties_even(), "{v}");
        }
        for v in [0.5f32, 1.5, 2.5, -0.5, -1.5, 126.5, -126.5, 63.999, -64.0] {
            assert_eq!(round_small(v) as f32, v.round_ties_even(), "{v}");
        }
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let n = noise_from(4, 0.03, |_, _, _| 0.0);
        let mut buf = vec![0u8; 10];
        assert!(matches!(apply_noise(&n, &mut buf, 0, 4, 12, PixelLayout::Rgb8), Err(Error::InvalidBuffer { .. })));
        assert!(matches!(apply_noise(&n, &mut buf, 4, 4, 11, PixelLayout::Rgb8), Err(Error::InvalidBuffer { .. })));
        assert!(matches!(apply_noise(&n, &mut buf, 4, 4, 12, PixelLayout::Rgb8), Err(Error::InvalidBuffer { .. })));
        assert!(matches!(apply_noise(&n, &mut buf, u32::MAX, u32::MAX, usize::MAX, PixelLayout::Rgba8), Err(Error::InvalidBuffer { .. })));
        // exactly enough: last row needs no padding
        let mut ok = vec![0u8; 12 * 3 + 12];
        assert!(apply_noise(&n, &mut ok, 4, 4, 12, PixelLayout::Rgb8).is_ok());
    }
}
