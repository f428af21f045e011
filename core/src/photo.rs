//! Decoding and encoding photos: format detection, pixel limits, EXIF orientation, metadata.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageReader};

use crate::error::{Error, Result};

/// Default pixel limit for decoding: 100 megapixels (a 12 MP phone photo is well inside).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// The photo formats the SDK reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    /// Written losslessly (the encoder available here has no lossy mode).
    WebP,
}

impl PhotoFormat {
    /// Lower-case name: `jpeg`, `png`, `webp`.
    pub fn name(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpeg",
            PhotoFormat::Png => "png",
            PhotoFormat::WebP => "webp",
        }
    }

    /// The format a file name's extension names, if any.
    pub fn from_extension(ext: &str) -> Option<PhotoFormat> {
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" | "jpe" => Some(PhotoFormat::Jpeg),
            "png" => Some(PhotoFormat::Png),
            "webp" => Some(PhotoFormat::WebP),
            _ => None,
        }
    }

    fn from_image(f: image::ImageFormat) -> Option<PhotoFormat> {
        match f {
            image::ImageFormat::Jpeg => Some(PhotoFormat::Jpeg),
            image::ImageFormat::Png => Some(PhotoFormat::Png),
            image::ImageFormat::WebP => Some(PhotoFormat::WebP),
            _ => None,
        }
    }
}

impl std::fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to a photo's metadata when it is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetadataPolicy {
    /// Drop EXIF (location, camera, time) and XMP; keep the colour profile. The default.
    #[default]
    StripAllButColorProfile,
    /// Drop everything, colour profile included.
    StripAll,
}

/// Decoded, upright 8-bit pixels: RGB, or RGBA where the photo has transparency.
#[derive(Debug, Clone)]
pub enum Pixels {
    Rgb(image::RgbImage),
    Rgba(image::RgbaImage),
}

impl Pixels {
    pub fn width(&self) -> u32 {
        match self {
            Pixels::Rgb(i) => i.width(),
            Pixels::Rgba(i) => i.width(),
        }
    }
    pub fn height(&self) -> u32 {
        match self {
            Pixels::Rgb(i) => i.height(),
            Pixels::Rgba(i) => i.height(),
        }
    }
    /// An RGB copy (alpha dropped), e.g. for measuring.
    pub fn to_rgb(&self) -> image::RgbImage {
        match self {
            Pixels::Rgb(i) => i.clone(),
            Pixels::Rgba(i) => DynamicImage::ImageRgba8(i.clone()).to_rgb8(),
        }
    }
}

/// A decoded photo with what is needed to write it back.
#[derive(Debug, Clone)]
pub struct Photo {
    pub pixels: Pixels,
    pub format: PhotoFormat,
    /// The ICC colour profile, if the file had one.
    pub icc_profile: Option<Vec<u8>>,
    /// The EXIF orientation tag that was applied to make the pixels upright (1 = none).
    pub orientation: u8,
    /// A caption found in the photo's own metadata (EXIF ImageDescription, XMP dc:description).
    pub description: Option<String>,
}

fn decode_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Unsupported(u) => Error::UnsupportedFormat { detail: u.to_string() },
        image::ImageError::Limits(l) => Error::Decode { reason: format!("decoder limit reached: {l}") },
        other => Error::Decode { reason: other.to_string() },
    }
}

/// Decode JPEG, PNG or WebP bytes into upright 8-bit pixels, refusing images above
/// `max_pixels` before any pixel memory is allocated.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Photo> {
    if bytes.is_empty() {
        return Err(Error::UnsupportedFormat { detail: "the file is empty".into() });
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>> {
        let r = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Decode { reason: e.to_string() })?;
        match r.format() {
            Some(f) if PhotoFormat::from_image(f).is_some() => Ok(r),
            Some(f) => Err(Error::UnsupportedFormat { detail: format!("{f:?} is not supported (JPEG, PNG and WebP are)") }),
            None => Err(Error::UnsupportedFormat { detail: "not a JPEG, PNG or WebP file".into() }),
        }
    };
    let first = reader()?;
    let format = PhotoFormat::from_image(first.format().expect("checked")).expect("checked");
    if format == PhotoFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The JPEG decoder pads a cut-off scan with grey; protecting that would lose the photo.
        return Err(Error::Decode { reason: "the JPEG is truncated (its last scan has no end-of-image marker)".into() });
    }
    let (w, h) = first.into_dimensions().map_err(decode_error)?;
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        return Err(Error::ImageTooLarge { width: w as u64, height: h as u64, pixels, max_pixels });
    }
    if pixels == 0 {
        return Err(Error::EmptyImage { width: w, height: h });
    }
    let mut r = reader()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // decoded pixels (up to 16-bit RGBA) plus decoder working memory
    limits.max_alloc = Some(pixels * 8 + (64 << 20));
    r.limits(limits);
    let mut decoder = r.into_decoder().map_err(decode_error)?;
    let icc_profile = decoder.icc_profile().ok().flatten();
    let exif = decoder.exif_metadata().ok().flatten();
    let xmp = decoder.xmp_metadata().ok().flatten();
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    let pixels = if img.color().has_alpha() { Pixels::Rgba(img.into_rgba8()) } else { Pixels::Rgb(img.into_rgb8()) };
    let description = exif.as_deref().and_then(exif_description).or_else(|| xmp.as_deref().and_then(xmp_description));
    Ok(Photo { pixels, format, icc_profile, orientation: orientation_tag(orientation), description })
}

/// Whether a JPEG's last scan is followed by an end-of-image marker. Inside entropy-coded data
/// 0xFF is always followed by 0x00 or a restart marker, so the last FF DA (start of scan) is a
/// real marker, and a complete file has FF D9 after it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(i) => bytes[i + 2..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

fn orientation_tag(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation::*;
    match o {
        NoTransforms => 1,
        FlipHorizontal => 2,
        Rotate180 => 3,
        FlipVertical => 4,
        Rotate90FlipH => 5,
        Rotate90 => 6,
        Rotate270FlipH => 7,
        Rotate270 => 8,
    }
}

/// EXIF ImageDescription (or UserComment), trimmed; None if absent or blank.
fn exif_description(raw: &[u8]) -> Option<String> {
    let exif = exif::Reader::new().read_raw(raw.to_vec()).ok()?;
    for tag in [exif::Tag::ImageDescription, exif::Tag::UserComment] {
        if let Some(f) = exif.get_field(tag, exif::In::PRIMARY) {
            let text = match &f.value {
                exif::Value::Ascii(parts) => parts.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(" "),
                exif::Value::Undefined(bytes, _) if bytes.len() > 8 => {
                    // UserComment: 8-byte character code, then text
                    String::from_utf8_lossy(&bytes[8..]).into_owned()
                }
                _ => continue,
            };
            let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\0').to_string();
            if !t.is_empty() {
                return Some(t);
            }
        }
    }
    None
}

/// The first `dc:description` text in an XMP packet.
fn xmp_description(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    let start = s.find("<dc:description")?;
    let rest = &s[start..];
    let end = rest.find("</dc:description>")?;
    let body = &rest[..end];
    // take the text of the first element without children: after the last '>' before text
    let li = body.find("<rdf:li").map(|i| &body[i..]).unwrap_or(body);
    let text_start = li.find('>')? + 1;
    let text_end = li[text_start..].find('<').map(|e| text_start + e).unwrap_or(li.len());
    let text = xml_unescape(li[text_start..text_end].trim());
    if text.is_empty() { None } else { Some(text) }
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Encoding choices for a protected photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality 1-100 (ignored for PNG and WebP, which are lossless).
    pub jpeg_quality: u8,
    pub metadata: MetadataPolicy,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        // High quality: the noise is a few levels; strong recompression weakens it.
        EncodeOptions { jpeg_quality: 95, metadata: MetadataPolicy::default() }
    }
}

/// Encode pixels as `format`. JPEG drops alpha (it cannot hold it).
pub fn encode(pixels: &Pixels, format: PhotoFormat, icc_profile: Option<&[u8]>, options: EncodeOptions) -> Result<Vec<u8>> {
    if !(1..=100).contains(&options.jpeg_quality) {
        return Err(Error::InvalidArgument { name: "jpeg_quality", reason: format!("{} is outside 1..=100", options.jpeg_quality) });
    }
    let enc_err = |e: image::ImageError| Error::Encode { format: format.to_string(), reason: e.to_string() };
    let mut out = Vec::new();
    let icc = match options.metadata {
        MetadataPolicy::StripAllButColorProfile => icc_profile.map(<[u8]>::to_vec),
        MetadataPolicy::StripAll => None,
    };
    let rgb_for_jpeg;
    let (buf, w, h, color): (&[u8], u32, u32, image::ExtendedColorType) = match (pixels, format) {
        (Pixels::Rgba(i), PhotoFormat::Jpeg) => {
            rgb_for_jpeg = DynamicImage::ImageRgba8(i.clone()).to_rgb8();
            (rgb_for_jpeg.as_raw(), i.width(), i.height(), image::ExtendedColorType::Rgb8)
        }
        (Pixels::Rgba(i), _) => (i.as_raw(), i.width(), i.height(), image::ExtendedColorType::Rgba8),
        (Pixels::Rgb(i), _) => (i.as_raw(), i.width(), i.height(), image::ExtendedColorType::Rgb8),
    };
    macro_rules! write_with {
        ($enc:expr) => {{
            let mut enc = $enc;
            if let Some(p) = icc {
                let _ = enc.set_icc_profile(p); // a format that cannot carry one just drops it
            }
            enc.write_image(buf, w, h, color).map_err(enc_err)?;
        }};
    }
    match format {
        PhotoFormat::Jpeg => {
            let (w16, h16) = match (u16::try_from(w), u16::try_from(h)) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return Err(Error::Encode { format: format.to_string(), reason: format!("{w}x{h} exceeds JPEG's 65535-pixel side") }),
            };
            let jerr = |e: jpeg_encoder::EncodingError| Error::Encode { format: format.to_string(), reason: e.to_string() };
            let mut enc = jpeg_encoder::Encoder::new(&mut out, options.jpeg_quality);
            if let Some(p) = icc {
                enc.add_icc_profile(&p).map_err(jerr)?;
            }
            enc.encode(buf, w16, h16, jpeg_encoder::ColorType::Rgb).map_err(jerr)?;
        }
        PhotoFormat::Png => write_with!(image::codecs::png::PngEncoder::new(&mut out)),
        PhotoFormat::WebP => write_with!(image::codecs::webp::WebPEncoder::new_lossless(&mut out)),
    }
    Ok(out)
}

/// Shorter side to `r` (area-averaging), then the centre `r x r` crop, as RGB floats in [0,1],
/// planar (3 x r x r): what a scraper's preprocessing feeds a model.
pub fn scraper_view(rgb: &image::RgbImage, r: u32) -> Vec<f32> {
    let (w, h) = rgb.dimensions();
    let s = w.min(h).max(1);
    let nw = ((w as u64 * r as u64 + s as u64 / 2) / s as u64).max(r as u64) as u32;
    let nh = ((h as u64 * r as u64 + s as u64 / 2) / s as u64).max(r as u64) as u32;
    let resized = if (nw, nh) == (w, h) {
        rgb.clone()
    } else if nw <= w && nh <= h {
        image::imageops::thumbnail(rgb, nw, nh)
    } else {
        image::imageops::resize(rgb, nw, nh, image::imageops::FilterType::Triangle)
    };
    let (x0, y0) = ((nw - r) / 2, (nh - r) / 2);
    let ru = r as usize;
    let mut out = vec![0f32; 3 * ru * ru];
    for y in 0..ru {
        for x in 0..ru {
            let p = resized.get_pixel(x0 + x as u32, y0 + y as u32).0;
            for c in 0..3 {
                out[c * ru * ru + y * ru + x] = p[c] as f32 / 255.0;
            }
        }
    }
    out
}
