"""Checks the committed bundle(s) under models/bundles/, when present."""
import json
from pathlib import Path

import numpy as np
import pytest

from t2ue_models import export as X
from t2ue_models.kdf import latent_for, manifest_latent_rule
from t2ue_models.text import Tokenizer

BUNDLES = sorted(p.parent for p in (Path(__file__).resolve().parent.parent / "bundles").glob("*/manifest.json"))


@pytest.mark.skipif(not BUNDLES, reason="no bundle committed yet")
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_committed_bundle(bundle):
    m = X.verify_bundle(bundle)                                   # hashes, sizes, graph I/O
    total = sum(v["bytes"] for v in m["files"].values())
    assert total <= 40e6
    g = json.loads((bundle / "golden.json").read_text())
    tok = Tokenizer(bundle / m["tokenizer"]["file"], m["context_length"], m["tokenizer"]["pad_id"])
    st, sg, si = (X.ort_session(bundle / m["graphs"][r]["file"]) for r in ("text_encoder", "generator", "image_encoder"))
    tol = g["tolerance"]
    for c in g["cases"]:
        ids, mask = tok([c["caption"]])
        assert ids[0].tolist() == c["input_ids"] and mask[0].tolist() == c["attention_mask"]
        z = latent_for(manifest_latent_rule(m), bytes.fromhex(c["key_hex"]), c["caption"], m["latent_dim"])
        assert np.array_equal(z, np.array(c["z"], np.float32))
        e = st.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        assert np.abs(e[0] - np.array(c["text_embedding"])).max() <= tol["text_embedding"]
        n = sg.run(None, {"text_embedding": np.array([c["text_embedding"]], np.float32), "z": z[None]})[0][0]
        assert np.abs(n).max() <= m["epsilon"] + 1e-7
        flat = n.reshape(-1)
        s = c["noise_sample"]
        assert np.abs(flat[:: s["stride"]] - np.array(s["values"])).max() <= tol["noise"]
    R = m["resolution"]
    img = si.run(None, {"pixels": X.image_pattern(R)})[0][0]
    assert np.abs(img - np.array(g["image_case"]["image_embedding"])).max() <= tol["image_embedding"]


@pytest.mark.skipif(not BUNDLES, reason="no bundle committed yet")
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_shipped_graphs_compute_in_float32_whatever_the_cpu(bundle):
    """With the session settings the core uses, ONNX Runtime's fused int8-weight MatMuls compute what the
    unfused graph computes (float32). Its default quantises activations to int8 with CPU-specific kernels
    (0.003-0.004 apart in the text embedding between an AVX2 and a VNNI machine), so goldens made on one
    CPU failed on another."""
    m = X.verify_bundle(bundle)
    tok = Tokenizer(bundle / m["tokenizer"]["file"], m["context_length"], m["tokenizer"]["pad_id"])
    ids, mask = tok(["a red bicycle", "coffee on a wooden table", "x"])
    feeds = {"input_ids": ids, "attention_mask": mask}
    fused, plain = (X.ort_session(bundle / "text_encoder.onnx", optimize=o) for o in (True, False))
    e = fused.run(None, feeds)[0]
    assert np.abs(e - plain.run(None, feeds)[0]).max() <= 1e-5
    z = np.random.default_rng(0).standard_normal((len(e), m["latent_dim"])).astype(np.float32)
    gf, gp = (X.ort_session(bundle / "generator.onnx", optimize=o) for o in (True, False))
    gfeeds = {"text_embedding": e, "z": z}
    assert np.abs(gf.run(None, gfeeds)[0] - gp.run(None, gfeeds)[0]).max() <= 1e-5
