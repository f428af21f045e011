//! Protecting photos end to end with the tiny bundle: formats, orientation, metadata, alpha,
//! atomic writes, and hostile input.
mod common;

use common::*;
use image::ImageDecoder;
use t2ue::{Engine, EngineOptions, Error, PhotoFormat, Pixels, ProtectOptions, ProtectionKey};

fn key() -> ProtectionKey {
    ProtectionKey::from_bytes(&[42; 32]).unwrap()
}

#[test]
fn jpeg_png_webp_round_trip_with_bounded_change() {
    let e = tiny_engine();
    for name in ["astronaut.jpg", "chelsea.png"] {
        let bytes = std::fs::read(photo(name)).unwrap();
        let original = e.decode(&bytes).unwrap();
        for fmt in [None, Some(PhotoFormat::Png), Some(PhotoFormat::WebP), Some(PhotoFormat::Jpeg)] {
            let opts = ProtectOptions { format: fmt, ..Default::default() };
            let out = e.protect_photo_bytes(&bytes, Some("an astronaut in a white suit"), &key(), &opts).unwrap();
            let r = &out.report;
            assert_eq!((r.width, r.height), (original.pixels.width(), original.pixels.height()));
            assert_eq!(r.output_format, fmt.unwrap_or(original.format));
            assert!(r.max_abs_change <= 8 && r.max_abs_change >= 1, "{name}: {r:?}");
            assert!(r.psnr_db > 30.0 && r.psnr_db.is_finite(), "{name}: {r:?}");
            let back = e.decode(&out.bytes).unwrap();
            assert_eq!(back.format, r.output_format);
            assert_eq!((back.pixels.width(), back.pixels.height()), (r.width, r.height));
            if r.output_format != PhotoFormat::Jpeg {
                // lossless output: decoded pixels differ from the original by at most 8 levels
                let (a, b) = (original.pixels.to_rgb(), back.pixels.to_rgb());
                let maxd = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as i16 - *y as i16).unsigned_abs()).max().unwrap();
                assert!(maxd <= 8 && maxd >= 1, "{name} as {:?}: max diff {maxd}", r.output_format);
            }
        }
    }
}

#[test]
fn exif_orientation_is_applied_caption_read_and_location_stripped() {
    let e = tiny_engine();
    let bytes = std::fs::read(photo("cat_rotated_exif.jpg")).unwrap();
    assert!(bytes.windows(4).any(|w| w == b"Exif"));
    let p = e.decode(&bytes).unwrap();
    assert_eq!(p.orientation, 6);
    assert_eq!((p.pixels.width(), p.pixels.height()), (60, 90), "stored 90x60 sideways, shown 60x90");
    assert_eq!(p.description.as_deref(), Some("a tabby cat looking at the camera"));
    // no caption given: the photo's own description is used
    let out = e.protect_photo_bytes(&bytes, None, &key(), &ProtectOptions::default()).unwrap();
    assert!(out.report.caption_from_metadata);
    assert_eq!(out.report.caption, "a tabby cat looking at the camera");
    assert_eq!(out.report.orientation_applied, 6);
    assert_eq!((out.report.width, out.report.height), (60, 90));
    // output: upright pixels, no EXIF at all (so no GPS, no orientation to apply twice)
    let mut dec = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&out.bytes)).unwrap();
    assert!(dec.exif_metadata().unwrap().is_none());
    assert!(!out.bytes.windows(4).any(|w| w == b"Exif"));
    assert_eq!(dec.dimensions(), (60, 90));
    // an explicit caption wins over metadata
    let out = e.protect_photo_bytes(&bytes, Some("a cat"), &key(), &ProtectOptions::default()).unwrap();
    assert!(!out.report.caption_from_metadata);
    // no caption anywhere is an error
    let plain = std::fs::read(photo("chelsea.png")).unwrap();
    assert!(matches!(e.protect_photo_bytes(&plain, None, &key(), &ProtectOptions::default()), Err(Error::MissingCaption { .. })));
}

#[test]
fn alpha_is_kept_and_untouched() {
    let e = tiny_engine();
    let bytes = std::fs::read(photo("cat_alpha.png")).unwrap();
    let before = e.decode(&bytes).unwrap();
    let out = e.protect_photo_bytes(&bytes, Some("a cat"), &key(), &ProtectOptions::default()).unwrap();
    let after = e.decode(&out.bytes).unwrap();
    match (&before.pixels, &after.pixels) {
        (Pixels::Rgba(a), Pixels::Rgba(b)) => {
            for (p, q) in a.pixels().zip(b.pixels()) {
                assert_eq!(p[3], q[3], "alpha changed");
            }
        }
        other => panic!("expected RGBA in and out, got {other:?}"),
    }
    // JPEG cannot hold alpha: it is dropped, not an error
    let jpg = e.protect_photo_bytes(&bytes, Some("a cat"), &key(), &ProtectOptions { format: Some(PhotoFormat::Jpeg), ..Default::default() }).unwrap();
    assert!(matches!(e.decode(&jpg.bytes).unwrap().pixels, Pixels::Rgb(_)));
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A valid-looking PNG that claims to be `w x h` but carries almost no data.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut small = Vec::new();
    image::codecs::png::PngEncoder::new(&mut small)
        .write_image(&[0u8; 3], 1, 1, image::ExtendedColorType::Rgb8)
        .unwrap();
    // IHDR data starts at byte 16 (8 signature + 4 length + 4 type)
    small[16..20].copy_from_slice(&w.to_be_bytes());
    small[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&small[12..29]);
    small[29..33].copy_from_slice(&crc.to_be_bytes());
    small
}
use image::ImageEncoder;

#[test]
fn hostile_and_broken_files_get_typed_errors() {
    let e = tiny_engine();
    let k = key();
    let o = ProtectOptions::default();
    let jpg = std::fs::read(photo("astronaut.jpg")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("text", b"hello, I am not a photo\n".to_vec()),
        ("random", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
        ("truncated jpeg", jpg[..jpg.len() / 3].to_vec()),
        ("jpeg header only", jpg[..200].to_vec()),
        ("jpeg without its last bytes", jpg[..jpg.len() - 2].to_vec()),
        ("truncated png", std::fs::read(photo("chelsea.png")).unwrap()[..50_000].to_vec()),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ("bomb", png_bomb(100_000, 100_000)),
        ("zero width", png_bomb(0, 10)),
    ];
    for (what, bytes) in cases {
        let err = match e.protect_photo_bytes(&bytes, Some("x"), &k, &o) {
            Err(err) => err,
            Ok(p) => panic!("{what}: protected instead of refused ({:?})", p.report),
        };
        let ok = match what {
            "bomb" => matches!(err, Error::ImageTooLarge { pixels: 10_000_000_000, .. }),
            "gif" | "empty" | "text" | "random" => matches!(err, Error::UnsupportedFormat { .. }),
            _ => matches!(err, Error::Decode { .. } | Error::EmptyImage { .. }),
        };
        assert!(ok, "{what}: unexpected {err:?}");
        assert!(!err.to_string().is_empty());
    }
    // a configured limit below a real photo
    let small = Engine::open(tiny_bundle(), EngineOptions { max_pixels: 1000, ..options() }).unwrap();
    assert!(matches!(small.protect_photo_bytes(&jpg, Some("x"), &k, &o), Err(Error::ImageTooLarge { width: 512, height: 512, .. })));
    assert!(matches!(small.protect_pixels(&e.noise("x", &k).unwrap(), &mut [0u8; 12], 2000, 1, 6000, t2ue::PixelLayout::Rgb8), Err(Error::ImageTooLarge { .. })));
}

#[test]
fn files_are_written_atomically_and_never_overwritten_by_default() {
    let e = tiny_engine();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jpg");
    std::fs::copy(photo("astronaut.jpg"), &input).unwrap();
    let out = d.path().join("out.png");
    let r = e.protect_file(&input, &out, Some("an astronaut"), &key(), &ProtectOptions::default()).unwrap();
    assert_eq!(r.output_format, PhotoFormat::Png, "format follows the output's extension");
    assert!(out.exists());
    // exists: refused, left as it was
    let before = std::fs::read(&out).unwrap();
    assert!(matches!(e.protect_file(&input, &out, Some("x"), &key(), &ProtectOptions::default()), Err(Error::WouldOverwrite { .. })));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    // in place only when asked
    assert!(matches!(e.protect_file(&input, &input, Some("x"), &key(), &ProtectOptions::default()), Err(Error::WouldOverwrite { .. })));
    e.protect_file(&input, &out, Some("x"), &key(), &ProtectOptions { overwrite: true, ..Default::default() }).unwrap();
    assert_ne!(std::fs::read(&out).unwrap(), before);
    // a corrupt input leaves no output and no temporary file behind
    let bad = d.path().join("bad.jpg");
    std::fs::write(&bad, &std::fs::read(photo("astronaut.jpg")).unwrap()[..500]).unwrap();
    let bad_out = d.path().join("bad_out.jpg");
    assert!(e.protect_file(&bad, &bad_out, Some("x"), &key(), &ProtectOptions::default()).is_err());
    assert!(!bad_out.exists());
    // an unwritable destination folder is an Io error naming the path
    let err = e.protect_file(&input, &d.path().join("no/such/dir/out.jpg"), Some("x"), &key(), &ProtectOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let leftovers: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.contains("t2ue-tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // a missing input
    assert!(matches!(e.protect_file(&d.path().join("nope.jpg"), &d.path().join("o.jpg"), Some("x"), &key(), &ProtectOptions::default()), Err(Error::Io { .. })));
}

#[test]
fn score_is_finite_and_shows_the_change() {
    let e = tiny_engine();
    let bytes = std::fs::read(photo("astronaut.jpg")).unwrap();
    let clean = e.decode(&bytes).unwrap().pixels.to_rgb();
    let prot = e.protect_photo_bytes(&bytes, Some("an astronaut"), &key(), &ProtectOptions { format: Some(PhotoFormat::Png), ..Default::default() }).unwrap();
    let prot = e.decode(&prot.bytes).unwrap().pixels.to_rgb();
    let s = e.score(&clean, &prot, "an astronaut").unwrap();
    for v in [s.clean_similarity, s.protected_similarity, s.image_similarity] {
        assert!(v.is_finite() && (-1.0..=1.0).contains(&v), "{s:?}");
    }
    let same = e.score(&clean, &clean, "an astronaut").unwrap();
    assert_eq!(same.shift(), 0.0);
    assert!((same.image_similarity - 1.0).abs() < 1e-5);
    assert!(s.image_similarity < 1.0);
}
