//! Opening bundles: verification of hashes, files, manifest and graph shapes.
mod common;

use common::*;
use t2ue::{Bundle, Engine, Error};

#[test]
fn tiny_bundle_opens_from_dir_and_from_memory() {
    let b = Bundle::from_dir(tiny_bundle()).unwrap();
    assert_eq!(b.manifest().resolution, 16);
    assert_eq!(b.id().len(), 64);
    let json = std::fs::read(tiny_bundle().join("manifest.json")).unwrap();
    let files: Vec<(String, Vec<u8>)> = b
        .manifest()
        .files
        .keys()
        .map(|k| (k.clone(), std::fs::read(tiny_bundle().join(k)).unwrap()))
        .collect();
    let m = Bundle::from_memory(&json, files.clone()).unwrap();
    assert_eq!(m.id(), b.id());
    let e = Engine::from_bundle(&m, options()).unwrap();
    assert_eq!(e.info().name, "tiny-test");
    // one file short
    let short: Vec<_> = files.into_iter().filter(|(k, _)| k != "generator.onnx").collect();
    assert!(matches!(Bundle::from_memory(&json, short), Err(Error::BundleFileMissing { file }) if file == "generator.onnx"));
}

#[test]
fn a_changed_byte_is_caught_and_named() {
    let d = copy_tiny_bundle();
    let p = d.path().join("generator.onnx");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&p, bytes).unwrap();
    match Bundle::from_dir(d.path()) {
        Err(Error::BundleFileMismatch { file, expected, actual }) => {
            assert_eq!(file, "generator.onnx");
            assert!(expected.starts_with("sha256 ") && actual.starts_with("sha256 ") && expected != actual);
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
}

#[test]
fn a_truncated_or_missing_file_is_caught() {
    let d = copy_tiny_bundle();
    let p = d.path().join("tokenizer.json");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(Bundle::from_dir(d.path()), Err(Error::BundleFileMismatch { file, .. }) if file == "tokenizer.json"));
    std::fs::remove_file(&p).unwrap();
    assert!(matches!(Bundle::from_dir(d.path()), Err(Error::BundleFileMissing { file }) if file == "tokenizer.json"));
    std::fs::remove_file(d.path().join("manifest.json")).unwrap();
    let err = Bundle::from_dir(d.path()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("manifest.json"), "{err}");
}

#[test]
fn a_graph_with_other_shapes_is_refused_with_both_shapes_named() {
    let d = copy_tiny_bundle();
    std::fs::copy(repo().join("tests/fixtures/tiny-bundle-variants/generator_r8.onnx"), d.path().join("generator.onnx")).unwrap();
    rehash(d.path(), "generator.onnx");
    let err = Engine::open(d.path(), options()).unwrap_err();
    match &err {
        Error::BundleGraphMismatch { graph, detail } => {
            assert_eq!(graph, "generator");
            assert!(detail.contains("noise float32[batch,3,8,8]") && detail.contains("noise float32[batch,3,16,16]"), "{detail}");
        }
        other => panic!("expected a graph mismatch, got {other:?}"),
    }
}

#[test]
fn manifest_contract_violations_are_errors() {
    let cases: Vec<(&str, Box<dyn Fn(&mut serde_json::Value)>)> = vec![
        ("format", Box::new(|m| m["format"] = "zip".into())),
        ("format_version", Box::new(|m| m["format_version"] = 3.into())),
        ("format 2 needs a latent rule", Box::new(|m| m["format_version"] = 2.into())),
        ("format 1 has no latent rule", Box::new(|m| m["latent_rule"] = "key".into())),
        ("unknown latent rule", Box::new(|m| {
            m["format_version"] = 2.into();
            m["latent_rule"] = "caption".into();
        })),
        ("epsilon", Box::new(|m| m["epsilon"] = 0.5.into())),
        ("latent_dim", Box::new(|m| m["latent_dim"] = 5000.into())),
        ("resolution", Box::new(|m| m["resolution"] = 0.into())),
        ("contract", Box::new(|m| m["resolution"] = 32.into())),
        ("unlisted", Box::new(|m| {
            m["files"].as_object_mut().unwrap().remove("generator.onnx");
        })),
        ("path", Box::new(|m| {
            let e = m["files"]["golden.json"].clone();
            m["files"]["../golden.json"] = e;
        })),
    ];
    for (what, edit) in cases {
        let d = copy_tiny_bundle();
        let mp = d.path().join("manifest.json");
        let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
        edit(&mut m);
        std::fs::write(&mp, serde_json::to_vec(&m).unwrap()).unwrap();
        let err = Bundle::from_dir(d.path()).unwrap_err();
        assert!(matches!(err, Error::BundleManifest { .. } | Error::BundleGraphMismatch { .. }), "{what}: {err:?}");
    }
    let d = copy_tiny_bundle();
    std::fs::write(d.path().join("manifest.json"), b"{not json").unwrap();
    assert!(matches!(Bundle::from_dir(d.path()), Err(Error::BundleManifest { .. })));
}

#[test]
fn a_corrupt_graph_with_a_matching_hash_is_a_runtime_error_not_a_panic() {
    let d = copy_tiny_bundle();
    std::fs::write(d.path().join("image_encoder.onnx"), b"this is not an onnx model").unwrap();
    rehash(d.path(), "image_encoder.onnx");
    let err = Engine::open(d.path(), options()).unwrap_err();
    assert!(matches!(err, Error::Runtime { .. }), "{err:?}");
    assert!(err.to_string().contains("image_encoder"), "{err}");
}
