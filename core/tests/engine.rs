//! The engine against the tiny bundle: parity with Python's goldens, determinism, threads,
//! captions and execution providers.
mod common;

use common::*;
use t2ue::{Engine, EngineOptions, Error, ExecutionProvider, ProtectionKey, MAX_CAPTION_CHARS};

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Check a bundle against the golden vectors its Python pipeline wrote.
fn check_parity(dir: &std::path::Path) {
    let e = Engine::open(dir, options()).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap();
    let tol = &g["tolerance"];
    let name = dir.display();
    for case in g["cases"].as_array().unwrap() {
        let caption = case["caption"].as_str().unwrap();
        let key = ProtectionKey::from_hex(case["key_hex"].as_str().unwrap()).unwrap();
        // tokenisation
        let tok = e.tokenize(caption).unwrap();
        let ids: Vec<i64> = case["input_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let mask: Vec<i64> = case["attention_mask"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(tok.input_ids, ids, "{name}: token ids of {caption:?}");
        assert_eq!(tok.attention_mask, mask, "{name}: mask of {caption:?}");
        if let Some(t) = case["truncated"].as_bool() {
            assert_eq!(tok.truncated, t, "{name}: truncation of {caption:?}");
        }
        // the KDF, against an independent Python implementation: bit-identical
        let z = e.latent(&key, &tok.caption).unwrap();
        assert!(z == floats(&case["z"]), "{name}: latent z of {caption:?} differs from Python's");
        // text embedding
        let emb = e.text_embeddings(std::slice::from_ref(&tok)).unwrap().pop().unwrap();
        let d = max_diff(&emb, &floats(&case["text_embedding"]));
        assert!(d <= tol["text_embedding"].as_f64().unwrap() as f32, "{name}: text embedding differs by {d}");
        // noise
        let n = e.noise(caption, &key).unwrap();
        let stride = case["noise_sample"]["stride"].as_u64().unwrap() as usize;
        let sample: Vec<f32> = n.values().iter().step_by(stride).copied().collect();
        let d = max_diff(&sample, &floats(&case["noise_sample"]["values"]));
        assert!(d <= tol["noise"].as_f64().unwrap() as f32, "{name}: noise differs by {d}");
        let mean = n.values().iter().map(|&v| v as f64).sum::<f64>() / n.values().len() as f64;
        assert!((mean - case["noise_stats"]["mean"].as_f64().unwrap()).abs() < 1e-5, "{name}: noise mean");
        assert!(n.max_abs() <= e.info().epsilon);
    }
    // image encoder on the formula pattern
    let r = e.info().resolution as usize;
    let mut p = vec![0f32; 3 * r * r];
    for c in 0..3 {
        for y in 0..r {
            for x in 0..r {
                p[c * r * r + y * r + x] = (((c + 1) * (x + 2 * y)) % r) as f32 / r as f32;
            }
        }
    }
    let ie = e.image_embeddings(&[p]).unwrap().pop().unwrap();
    let d = max_diff(&ie, &floats(&g["image_case"]["image_embedding"]));
    assert!(d <= tol["image_embedding"].as_f64().unwrap() as f32, "{name}: image embedding differs by {d}");
}

/// A format 2 manifest's latent rule decides what z is derived from; the tiny bundle's generator
/// uses z, so the rule shows in the noise.
#[test]
fn the_latent_rule_decides_whether_the_caption_enters_the_latent() {
    let key = ProtectionKey::from_bytes(&[9u8; 32]).unwrap();
    let v1 = Engine::open(&tiny_bundle(), options()).unwrap();
    assert_eq!(v1.info().latent_rule, t2ue::LatentRule::KeyAndCaption);
    let d = copy_tiny_bundle();
    let mp = d.path().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
    m["format_version"] = 2.into();
    m["latent_rule"] = "key".into();
    std::fs::write(&mp, serde_json::to_vec(&m).unwrap()).unwrap();
    let v2 = Engine::open(d.path(), options()).unwrap();
    assert_eq!(v2.info().latent_rule, t2ue::LatentRule::KeyOnly);
    // key only: one latent for every caption, the KDF with empty info
    assert_eq!(v2.latent(&key, "a cat").unwrap(), v2.latent(&key, "a dog").unwrap());
    assert_eq!(v2.latent(&key, "a cat").unwrap(), t2ue::derive_latent(&key, "", v2.info().latent_dim).unwrap());
    assert_ne!(v1.latent(&key, "a cat").unwrap(), v1.latent(&key, "a dog").unwrap());
    let other = ProtectionKey::from_bytes(&[10u8; 32]).unwrap();
    assert_ne!(v2.latent(&key, "a cat").unwrap(), v2.latent(&other, "a cat").unwrap());
    // same graphs, other z: other noise; same rule and inputs: the noise the explicit latent gives
    let (n1, n2) = (v1.noise("a cat", &key).unwrap(), v2.noise("a cat", &key).unwrap());
    assert_ne!(n1.values(), n2.values());
    let z = t2ue::derive_latent(&key, "", v2.info().latent_dim).unwrap();
    assert_eq!(n2.values(), v2.noise_from_latent("a cat", &z).unwrap().values());
}

#[test]
fn parity_with_python_goldens_tiny_bundle() {
    check_parity(&tiny_bundle());
}

/// Every shipped bundle under models/bundles/ with goldens is checked too.
#[test]
fn parity_with_python_goldens_shipped_bundles() {
    let dir = repo().join("models/bundles");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries {
        let p = entry.unwrap().path();
        if p.join("manifest.json").exists() && p.join("golden.json").exists() {
            check_parity(&p);
        }
    }
}

#[test]
fn noise_is_key_bound_and_bit_identical() {
    let e = tiny_engine();
    let k1 = ProtectionKey::from_bytes(&[1; 32]).unwrap();
    let k2 = ProtectionKey::from_bytes(&[2; 32]).unwrap();
    let a = e.noise("a dog on the beach", &k1).unwrap();
    let b = e.noise("a dog on the beach", &k1).unwrap();
    let c = e.noise("a dog on the beach", &k2).unwrap();
    assert!(a.values() == b.values(), "same key and caption must give bit-identical noise");
    assert!(a.values() != c.values(), "another key must give other noise");
    // normalisation: same caption up to whitespace/NFC gives the same noise
    let d = e.noise("  a dog\u{00A0}on   the beach\n", &k1).unwrap();
    assert!(a.values() == d.values(), "whitespace variants must give the same noise");
    let composed = e.noise("caf\u{e9}", &k1).unwrap();
    let decomposed = e.noise("cafe\u{301}", &k1).unwrap();
    assert!(composed.values() == decomposed.values(), "NFC and NFD captions must give the same noise");
    // correlation between keys is low
    let corr = t2ue::cosine(a.values(), c.values());
    assert!(corr.abs() < 0.5, "noises of different keys correlate {corr}");
}

#[test]
fn batch_equals_single() {
    let e = tiny_engine();
    let k = ProtectionKey::from_bytes(&[9; 32]).unwrap();
    let caps = ["a red car", "two people sitting near a river", "a cup on a table", "an old book"];
    let batch = e.noise_batch(&caps, &k).unwrap();
    assert_eq!(batch.len(), 4);
    for (c, n) in caps.iter().zip(&batch) {
        assert!(e.noise(c, &k).unwrap().values() == n.values(), "batch and single noise differ for {c:?}");
    }
    assert!(e.noise_batch(&[], &k).unwrap().is_empty());
    assert!(matches!(e.noise_batch(&["ok", " "], &k), Err(Error::EmptyCaption)));
}

#[test]
fn many_threads_share_one_engine_and_get_the_same_results() {
    let e = tiny_engine();
    let k = ProtectionKey::from_bytes(&[3; 32]).unwrap();
    let caps: Vec<String> = (0..16).map(|i| format!("a photo of {i} cats on a chair")).collect();
    let serial: Vec<Vec<f32>> = caps.iter().map(|c| e.noise(c, &k).unwrap().values().to_vec()).collect();
    let parallel: Vec<Vec<f32>> = std::thread::scope(|s| {
        let hs: Vec<_> = caps.iter().map(|c| s.spawn(|| e.noise(c, &k).unwrap().values().to_vec())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(serial == parallel, "noise made on 16 threads differs from serial noise");
    // and with more ONNX Runtime threads per graph
    let e4 = Engine::open(tiny_bundle(), EngineOptions { intra_threads: 4, ..options() }).unwrap();
    for (c, v) in caps.iter().zip(&serial) {
        assert!(e4.noise(c, &k).unwrap().values() == v.as_slice(), "intra_threads=4 changed the noise for {c:?}");
    }
}

#[test]
fn caption_edge_cases() {
    let e = tiny_engine();
    let k = ProtectionKey::from_bytes(&[4; 32]).unwrap();
    assert!(matches!(e.noise("", &k), Err(Error::EmptyCaption)));
    assert!(matches!(e.noise(" \t\n\u{3000} ", &k), Err(Error::EmptyCaption)));
    let long = "word ".repeat(2000); // 10,000 characters
    match e.noise(&long, &k) {
        Err(Error::CaptionTooLong { chars, max }) => {
            assert_eq!(max, MAX_CAPTION_CHARS);
            assert!(chars > max);
        }
        other => panic!("expected CaptionTooLong, got {other:?}"),
    }
    // long but allowed: truncated to the context length, and reported
    let n = e.noise(&"a cat ".repeat(100), &k).unwrap();
    assert!(n.caption_truncated());
    let tok = e.tokenize(&"a cat ".repeat(100)).unwrap();
    assert_eq!(tok.token_count, e.info().context_length);
    assert_eq!(*tok.input_ids.last().unwrap(), 3, "the closing [SEP] survives truncation");
    assert!(!e.noise("a cat", &k).unwrap().caption_truncated());
    // any script, emoji, control characters: no panic
    for c in ["猫がいる", "🐱🐶", "a\u{0}b", "\u{202e}evil", "ا قطة"] {
        let n = e.noise(c, &k).unwrap();
        assert!(n.max_abs() <= e.info().epsilon);
    }
    // explicit latent of the wrong size
    assert!(matches!(e.noise_from_latent("a cat", &[0.0; 3]), Err(Error::LatentSize { expected: 8, actual: 3 })));
    assert!(matches!(e.noise_from_latent("a cat", &[f32::NAN; 8]), Err(Error::InvalidArgument { .. })));
}

#[test]
fn unavailable_provider_falls_back_to_cpu_and_says_why() {
    for p in [ExecutionProvider::Cuda, ExecutionProvider::CoreMl, ExecutionProvider::Nnapi] {
        let e = Engine::open(tiny_bundle(), EngineOptions { provider: p, ..options() }).unwrap();
        let r = e.provider();
        assert_eq!(r.requested, p);
        assert_eq!(r.active, ExecutionProvider::Cpu);
        assert!(r.fallback_reason.as_deref().is_some_and(|s| !s.is_empty()), "{r:?}");
        let strict = Engine::open(tiny_bundle(), EngineOptions { provider: p, require_provider: true, ..options() });
        assert!(matches!(strict, Err(Error::ProviderUnavailable { .. })));
    }
    let cpu = tiny_engine();
    assert_eq!(cpu.provider().active, ExecutionProvider::Cpu);
    assert!(cpu.provider().fallback_reason.is_none());
    assert!("gpu".parse::<ExecutionProvider>().is_err());
    assert_eq!("CUDA".parse::<ExecutionProvider>().unwrap(), ExecutionProvider::Cuda);
}
