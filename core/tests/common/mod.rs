//! Shared helpers for the core's integration tests: fixture paths and the ONNX Runtime library.
#![allow(dead_code)]

use std::path::PathBuf;

use t2ue::{Engine, EngineOptions};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn tiny_bundle() -> PathBuf {
    repo().join("tests/fixtures/tiny-bundle")
}

pub fn photo(name: &str) -> PathBuf {
    repo().join("tests/fixtures/photos").join(name)
}

/// ORT_DYLIB_PATH if set, else where scripts/ensure-onnxruntime.sh puts the pinned library.
pub fn ort_library() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("T2UE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/t2ue"));
    let p = cache.join("onnxruntime-1.31.1/libonnxruntime.so.1.31.1");
    assert!(p.exists(), "ONNX Runtime library not found at {}: run scripts/ensure-onnxruntime.sh", p.display());
    p
}

pub fn options() -> EngineOptions {
    EngineOptions { runtime_library: Some(ort_library()), intra_threads: 1, ..EngineOptions::default() }
}

pub fn tiny_engine() -> Engine {
    Engine::open(tiny_bundle(), options()).expect("tiny bundle opens")
}

/// Copy the tiny bundle into a temporary directory so a test can damage it.
pub fn copy_tiny_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(tiny_bundle()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// Rewrite one file's entry in a bundle copy's manifest so its hash and size match again.
pub fn rehash(dir: &std::path::Path, file: &str) {
    let mpath = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(file)).unwrap();
    m["files"][file]["sha256"] = serde_json::Value::String(t2ue::sha256_hex(&bytes));
    m["files"][file]["bytes"] = serde_json::Value::from(bytes.len());
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}
