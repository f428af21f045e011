import hashlib
import json
import shutil

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


def _plant_old_export_metadata(b):
    """Make the bundle look like one exported before the metadata rule: stack traces on the generator's nodes."""
    g = onnx.load(str(b / "generator.onnx"))
    for n in g.graph.node:
        p = n.metadata_props.add()
        p.key, p.value = "pkg.torch.onnx.stack_trace", 'File "/home/dev/t2ue/models/t2ue_models/nets.py", line 9'
    onnx.save(g, str(b / "generator.onnx"))
    m = json.loads((b / "manifest.json").read_text())
    m["files"] = {f: {"sha256": X.sha256(b / f), "bytes": (b / f).stat().st_size} for f in m["files"]}
    (b / "manifest.json").write_text(json.dumps(m, indent=1))
    X.verify_bundle(b)
    return len(g.graph.node)


def test_strip_bundle_drops_old_exports_metadata_and_keeps_the_computation(tiny_bundle, tmp_path, monkeypatch):
    b = tmp_path / "old"
    shutil.copytree(tiny_bundle[0], b)
    nodes = _plant_old_export_metadata(b)
    before = {f: (b / f).read_bytes() for f in ("generator.onnx", "manifest.json", "golden.json")}
    # the check fails (as if stripping had changed the noise): nothing is replaced, nothing is left over
    monkeypatch.setattr(X, "_same_computation", lambda *a: False)
    with pytest.raises(RuntimeError, match="same outputs"):
        X.strip_bundle(b, "test", log=lambda *_: None)
    assert {f: (b / f).read_bytes() for f in before} == before
    assert not list(b.glob("*.tmp"))
    monkeypatch.undo()
    assert X.strip_bundle(b, "test", log=lambda *_: None) == {"generator.onnx": nodes}
    m = X.verify_bundle(b)
    assert b"/home/dev" not in (b / "generator.onnx").read_bytes()
    assert (b / "golden.json").read_bytes() == before["golden.json"]
    assert m["provenance"]["stripped"]["previous"]["generator.onnx"]["sha256"] == hashlib.sha256(before["generator.onnx"]).hexdigest()
    assert m["files"]["generator.onnx"]["bytes"] < len(before["generator.onnx"])
    after = (b / "manifest.json").read_bytes()
    assert X.strip_bundle(b, "again", log=lambda *_: None) == {} and (b / "manifest.json").read_bytes() == after


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
