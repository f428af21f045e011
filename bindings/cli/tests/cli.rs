//! The `t2ue` binary as a user runs it: real bundle fixture, real photos, real ONNX Runtime.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ort() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return p.into();
    }
    let cache = std::env::var_os("T2UE_CACHE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/t2ue"));
    cache.join("onnxruntime-1.31.1/libonnxruntime.so.1.31.1")
}

fn t2ue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t2ue"))
        .args(args)
        .env("ORT_DYLIB_PATH", ort())
        .env("T2UE_BUNDLE", repo().join("tests/fixtures/tiny-bundle"))
        .env_remove("T2UE_KEY_FILE")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key.hex");
    let o = t2ue(&["keygen", "-o", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let inp = d.path().join("in");
    std::fs::create_dir_all(inp.join("album")).unwrap();
    let photos = repo().join("tests/fixtures/photos");
    std::fs::copy(photos.join("astronaut.jpg"), inp.join("astronaut.jpg")).unwrap();
    std::fs::copy(photos.join("cat_rotated_exif.jpg"), inp.join("album/cat.jpg")).unwrap();
    std::fs::copy(photos.join("chelsea.png"), inp.join("album/chelsea.png")).unwrap();
    std::fs::write(inp.join("album/chelsea.txt"), "a cat on a rug\n").unwrap();
    std::fs::write(inp.join("notes.txt"), "not a photo").unwrap();
    (d, key)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_makes_a_private_key_and_refuses_to_overwrite() {
    let (d, key) = setup();
    let hex = std::fs::read_to_string(&key).unwrap();
    assert_eq!(hex.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let o = t2ue(&["keygen", "-o", s(&key)]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), hex);
    drop(d);
}

#[test]
fn protect_a_tree_with_every_caption_source_then_resume() {
    let (d, key) = setup();
    let inp = d.path().join("in");
    let out = d.path().join("out");
    let manifest = d.path().join("captions.csv");
    std::fs::write(&manifest, "file,caption\nin/astronaut.jpg,\"an astronaut, smiling\"\n").unwrap();
    let o = t2ue(&["protect", "--key-file", s(&key), "--captions", s(&manifest), "--json", s(&inp), "-o", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{}", text(&o));
    let by = |name: &str| lines.iter().find(|l| l["input"].as_str().unwrap().ends_with(name)).unwrap().clone();
    assert_eq!(by("astronaut.jpg")["caption_source"], "manifest");
    assert_eq!(by("astronaut.jpg")["caption"], "an astronaut, smiling");
    assert_eq!(by("chelsea.png")["caption_source"], "sidecar");
    assert_eq!(by("cat.jpg")["caption_source"], "metadata");
    assert_eq!(by("cat.jpg")["orientation_applied"], 6);
    for l in &lines {
        assert_eq!(l["status"], "protected");
        assert!(l["max_abs_change"].as_u64().unwrap() <= 8);
        assert!(l["psnr_db"].as_f64().unwrap() > 30.0);
    }
    assert!(out.join("album/chelsea.png").exists() && out.join("album/cat.jpg").exists() && out.join("astronaut.jpg").exists());
    assert!(!out.join("notes.txt").exists());
    // inputs untouched
    assert_eq!(std::fs::read(inp.join("astronaut.jpg")).unwrap(), std::fs::read(repo().join("tests/fixtures/photos/astronaut.jpg")).unwrap());
    // a second run skips what is done
    let before = std::fs::read(out.join("astronaut.jpg")).unwrap();
    let o = t2ue(&["protect", "--key-file", s(&key), "--captions", s(&manifest), s(&inp), "-o", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 protected, 3 skipped"), "{}", text(&o));
    assert_eq!(std::fs::read(out.join("astronaut.jpg")).unwrap(), before);
    // the same key and caption give the same output bytes
    let again = d.path().join("again.jpg");
    let o = t2ue(&["protect", "--key-file", s(&key), "--caption", "an astronaut, smiling", s(&inp.join("astronaut.jpg")), "-o", s(&again)]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&again).unwrap(), before);
}

#[test]
fn a_photo_without_a_caption_is_named_and_fails_the_run() {
    let (d, key) = setup();
    let inp = d.path().join("in");
    let out = d.path().join("out");
    let o = t2ue(&["protect", "--key-file", s(&key), s(&inp), "-o", s(&out), "-j", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("astronaut.jpg: no caption"), "{t}");
    assert!(t.contains("2 protected, 0 skipped (output exists), 1 failed"), "{t}");
    assert!(!out.join("astronaut.jpg").exists());
}

#[test]
fn format_conversion_in_place_and_bad_inputs() {
    let (d, key) = setup();
    let inp = d.path().join("in");
    let out = d.path().join("webp");
    let o = t2ue(&["protect", "--key-file", s(&key), "--caption", "x", "--format", "webp", s(&inp), "-o", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("astronaut.webp").exists() && out.join("album/chelsea.webp").exists());
    // in place replaces the input
    let target = inp.join("astronaut.jpg");
    let before = std::fs::read(&target).unwrap();
    let o = t2ue(&["protect", "--key-file", s(&key), "--caption", "x", "--in-place", s(&target)]);
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(std::fs::read(&target).unwrap(), before);
    // corrupt photo: named, exit 1, no output
    let bad = inp.join("bad.jpg");
    std::fs::write(&bad, &before[..before.len() / 2]).unwrap();
    let o = t2ue(&["protect", "--key-file", s(&key), "--caption", "x", s(&bad), "-o", s(&d.path().join("bad_out.jpg"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("bad.jpg") && text(&o).contains("truncated"), "{}", text(&o));
    assert!(!d.path().join("bad_out.jpg").exists());
    // not a photo, missing path, no key, broken key, broken bundle
    assert_eq!(t2ue(&["protect", "--key-file", s(&key), "--caption", "x", s(&inp.join("notes.txt")), "-o", s(&out)]).status.code(), Some(2));
    assert_eq!(t2ue(&["protect", "--key-file", s(&key), "--caption", "x", "/no/such/photo.jpg", "-o", s(&out)]).status.code(), Some(2));
    assert_eq!(t2ue(&["protect", "--caption", "x", s(&inp), "-o", s(&out)]).status.code(), Some(2));
    let badkey = d.path().join("bad.hex");
    std::fs::write(&badkey, "1234").unwrap();
    let o = t2ue(&["protect", "--key-file", s(&badkey), "--caption", "x", s(&inp), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("32 bytes"), "{}", text(&o));
    let o = t2ue(&["protect", "--bundle", s(d.path()), "--key-file", s(&key), "--caption", "x", s(&inp), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("manifest.json"), "{}", text(&o));
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(t2ue(&["protect", "--key-file", s(&key), "--caption", "x", s(&empty), "-o", s(&out)]).status.code(), Some(4));
}

#[test]
fn inspect_noise_and_score() {
    let (d, key) = setup();
    let o = t2ue(&["inspect", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "tiny-test");
    assert_eq!(v["provider"]["active"], "cpu");
    let o = t2ue(&["inspect", "--provider", "cuda"]);
    assert!(o.status.success());
    assert!(text(&o).contains("note: cuda is not available"), "{}", text(&o));
    let png = d.path().join("noise.png");
    let o = t2ue(&["noise", "--key-file", s(&key), "--caption", "a cat", "-o", s(&png)]);
    assert!(o.status.success(), "{}", text(&o));
    let img = t2ue::decode(&std::fs::read(&png).unwrap(), 1 << 20).unwrap();
    assert_eq!((img.pixels.width(), img.pixels.height()), (16, 16));
    let photo = repo().join("tests/fixtures/photos/astronaut.jpg");
    let o = t2ue(&["score", "--key-file", s(&key), "--caption", "an astronaut", "--json", s(&photo)]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["shift"].as_f64().unwrap().is_finite());
    assert_eq!(t2ue(&["score", "--caption", "x", s(&photo)]).status.code(), Some(2));
    assert_eq!(t2ue(&["frobnicate"]).status.code(), Some(2));
    assert!(t2ue(&["--help"]).status.success());
}
