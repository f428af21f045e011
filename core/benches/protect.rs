//! `cargo bench -p t2ue --bench protect [-- BUNDLE_DIR]`
//!
//! Prints figures, asserts nothing about speed. Baselines are measured in the same run:
//! memcpy of the same buffer for the apply step. Uses the first trained bundle named in
//! models/bundles/DEFAULT (or the argument / T2UE_BUNDLE), else the tiny test bundle.
//! The 12 MP photo is the bundled astronaut (512x512) upscaled to 4000x3000: a benchmark input,
//! not a real 12 MP photograph.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use t2ue::{apply_noise, Engine, EngineOptions, PhotoFormat, PixelLayout, ProtectOptions, ProtectionKey};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bundle_dir() -> PathBuf {
    if let Some(a) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(a);
    }
    if let Some(b) = std::env::var_os("T2UE_BUNDLE") {
        return b.into();
    }
    if let Ok(name) = std::fs::read_to_string(repo().join("models/bundles/DEFAULT")) {
        let p = repo().join("models/bundles").join(name.trim());
        if p.join("manifest.json").exists() {
            return p;
        }
    }
    eprintln!("note: no trained bundle found; timing the tiny test bundle");
    repo().join("tests/fixtures/tiny-bundle")
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.95))
}

fn time<F: FnMut()>(iters: usize, mut f: F) -> Vec<Duration> {
    f(); // warm-up
    (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let bundle = bundle_dir();
    let opts = EngineOptions { intra_threads: 1, ..EngineOptions::default() };
    let engine = Engine::open(&bundle, opts).expect("bundle opens (is ORT_DYLIB_PATH set? run scripts/ensure-onnxruntime.sh)");
    let info = engine.info();
    println!("bundle {} {} (R={}, {:.1} MB), ONNX Runtime {}", info.name, info.version, info.resolution, info.total_bytes as f64 / 1e6, engine.runtime_library().display());
    let key = ProtectionKey::from_bytes(&[5; 32]).unwrap();
    let caption = "a woman in a white space suit smiling in front of a flag";

    // 1. caption -> noise, one thread, with the stages apart
    let n = 50;
    let tok = time(n, || {
        engine.tokenize(caption).unwrap();
    });
    let t = engine.tokenize(caption).unwrap();
    let text = time(n, || {
        engine.text_embeddings(std::slice::from_ref(&t)).unwrap();
    });
    let full = time(n, || {
        engine.noise(caption, &key).unwrap();
    });
    let (tp50, tp95) = percentiles(tok);
    let (ep50, ep95) = percentiles(text);
    let (fp50, fp95) = percentiles(full);
    println!("\ncaption -> noise, 1 thread, {n} runs (ms)   p50      p95");
    println!("  tokenise                            {tp50:8.3} {tp95:8.3}");
    println!("  text encoder (tokens given)          {ep50:8.3} {ep95:8.3}");
    println!("  tokenise + text encoder + generator {fp50:8.3} {fp95:8.3}   (generator ~ {:.3} ms)", fp50 - ep50 - tp50);

    // 2. apply to raw RGB buffers vs memcpy of the same buffer
    let noise = engine.noise(caption, &key).unwrap();
    println!("\napply noise in place, 1 thread (ms)        p50      p95   memcpy p50  ratio");
    for (name, w, h) in [("1080p RGB8", 1920u32, 1080u32), ("12 MP RGB8", 4000, 3000)] {
        let len = (w * h * 3) as usize;
        let src: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut buf = src.clone();
        let mut dst = vec![0u8; len];
        let reps = if w > 2000 { 15 } else { 40 };
        let apply = time(reps, || {
            buf.copy_from_slice(&src); // restore (not timed separately; subtracted below)
            apply_noise(&noise, &mut buf, w, h, (w * 3) as usize, PixelLayout::Rgb8).unwrap();
        });
        let copy = time(reps, || {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
        });
        let (ap50, ap95) = percentiles(apply);
        let (cp50, _) = percentiles(copy);
        // the apply loop also restored the buffer with one memcpy: take it out
        let (ap50, ap95) = (ap50 - cp50, ap95 - cp50);
        println!("  {name:<12} {w}x{h}       {ap50:8.2} {ap95:8.2}   {cp50:8.2}   {:5.1}x", ap50 / cp50);
    }

    // 3. end to end: decode, protect, encode a 12 MP JPEG
    let src = t2ue::decode(&std::fs::read(repo().join("tests/fixtures/photos/astronaut.jpg")).unwrap(), u64::MAX).unwrap();
    let big = t2ue::image::imageops::resize(&src.pixels.to_rgb(), 4000, 4000, t2ue::image::imageops::FilterType::Triangle);
    let big = t2ue::image::imageops::crop_imm(&big, 0, 500, 4000, 3000).to_image();
    let jpeg = t2ue::encode(&t2ue::Pixels::Rgb(big), PhotoFormat::Jpeg, None, Default::default()).unwrap();
    let opts = ProtectOptions::default();
    let e2e = time(5, || {
        engine.protect_photo_bytes(&jpeg, Some(caption), &key, &opts).unwrap();
    });
    let dec = time(5, || {
        engine.decode(&jpeg).unwrap();
    });
    let (e50, e95) = percentiles(e2e);
    let (d50, _) = percentiles(dec);
    println!("\nend to end, 12 MP JPEG ({:.1} MB) -> protected JPEG q95 (ms)", jpeg.len() as f64 / 1e6);
    println!("  decode + noise + apply + encode     p50 {e50:8.1}  p95 {e95:8.1}   (decode alone p50 {d50:.1})");
    if let Some(mb) = peak_rss_mb() {
        println!("\npeak RSS of this process: {mb:.0} MB (includes the 12 MP test buffers: ~36 MB each)");
    }
}
