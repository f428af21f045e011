import json

import numpy as np
import onnx
import pytest
import torch

from t2ue_models import export as X
from t2ue_models.kdf import latent_z
from t2ue_models.nets import EPSILON, Generator, Surrogate
from t2ue_models.text import Tokenizer


CAP = 1.0 / 255     # below the untrained generator's RMS, so the energy cap is active


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    torch.manual_seed(0)
    sur = Surrogate(pretrained=False, tiny=True).freeze_backbones().eval()
    gen = Generator(resolution=64, rms_cap=CAP).eval()      # cap engaged: its branch is in the exported graph
    out = tmp_path_factory.mktemp("b") / "tiny"
    parity = X.export_bundle(sur, gen, Tokenizer(), out, {"name": "tiny", "version": "0.0.1"},
                             log=lambda *_: None, quantize_text=True, text_int8_tol=1.0)
    return out, parity, sur, gen


def test_parity(tiny_bundle):
    _, parity, _, _ = tiny_bundle
    assert parity["text_encoder_fp32_max_abs"] < 1e-4
    assert parity["image_encoder_max_abs"] < 1e-4
    assert parity["generator_max_abs"] < 1e-5
    assert parity["generator_max_abs_noise"] <= EPSILON + 1e-7


def test_manifest_hashes_and_io(tiny_bundle):
    out, _, _, _ = tiny_bundle
    m = X.verify_bundle(out)
    assert set(m["files"]) >= {"tokenizer.json", "text_encoder.onnx", "image_encoder.onnx", "generator.onnx"}
    for role in ("text_encoder", "image_encoder", "generator"):
        g = onnx.load(str(out / m["graphs"][role]["file"]))
        for v in list(g.graph.input) + list(g.graph.output):
            assert v.type.tensor_type.shape.dim[0].dim_param == "batch"
        # no exporter debug metadata: it held absolute paths of this checkout and source line numbers
        assert not [p.key for n in g.graph.node for p in n.metadata_props if p.key.startswith("pkg.torch.onnx.")]
        raw = (out / m["graphs"][role]["file"]).read_bytes()
        assert b"t2ue_models/nets.py" not in raw and b"site-packages" not in raw, role
    (out / "golden.json").write_bytes((out / "golden.json").read_bytes() + b" ")
    with pytest.raises(AssertionError):
        X.verify_bundle(out)


def test_batch_axis_dynamic_and_golden(tiny_bundle):
    out, _, _, _ = tiny_bundle
    m = json.loads((out / "manifest.json").read_text())
    s = X.ort_session(out / "generator.onnx")
    for b in (1, 5):
        n = s.run(None, {"text_embedding": np.random.randn(b, m["embed_dim"]).astype(np.float32),
                         "z": np.random.randn(b, m["latent_dim"]).astype(np.float32)})[0]
        assert n.shape == (b, 3, 64, 64) and np.abs(n).max() <= m["epsilon"] + 1e-7
        rms = np.sqrt((n.astype(np.float64) ** 2).mean(axis=(1, 2, 3)))
        assert np.all(rms <= CAP * (1 + 1e-4)) and np.all(rms > 0.5 * CAP)
    g = json.loads((out / "golden.json").read_text())
    c = g["cases"][0]
    assert m["format_version"] == 2 and m["latent_rule"] == "key"       # one latent per key: KDF with empty info
    for c in g["cases"]:
        assert np.array_equal(np.array(c["z"], np.float32), latent_z(bytes.fromhex(c["key_hex"]), "", m["latent_dim"]))
    c = g["cases"][0]
    st = X.ort_session(out / "text_encoder.onnx")
    e = st.run(None, {"input_ids": np.array([c["input_ids"]]), "attention_mask": np.array([c["attention_mask"]])})[0]
    assert np.abs(e[0] - np.array(c["text_embedding"])).max() < 1e-5
