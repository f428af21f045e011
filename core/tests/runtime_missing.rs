//! Its own test binary (own process): ONNX Runtime has not been loaded yet here.
mod common;

use t2ue::{Engine, EngineOptions, Error};

#[test]
fn a_missing_runtime_library_says_where_it_looked() {
    let opts = EngineOptions { runtime_library: Some("/nonexistent/libonnxruntime.so".into()), ..EngineOptions::default() };
    let err = Engine::open(common::tiny_bundle(), opts).unwrap_err();
    match &err {
        Error::RuntimeNotFound { searched, .. } => assert!(searched.contains("/nonexistent/libonnxruntime.so"), "{searched}"),
        other => panic!("expected RuntimeNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("ORT_DYLIB_PATH"));
    // A file that is not a shared library is a clear error too.
    let opts = EngineOptions { runtime_library: Some(common::tiny_bundle().join("golden.json")), ..EngineOptions::default() };
    assert!(matches!(Engine::open(common::tiny_bundle(), opts), Err(Error::RuntimeNotFound { .. })));
    // And after that, the right library still loads.
    assert!(Engine::open(common::tiny_bundle(), common::options()).is_ok());
}
