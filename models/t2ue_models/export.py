"""ONNX export (dynamo, opset 18, one file), int8 quantisation where parity holds, onnxruntime parity,
golden.json and manifest.json per docs/bundle-format.md."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .kdf import LATENT_RULES, latent_for, manifest_latent_rule, normalise_caption
from .nets import Generator, Surrogate
from .text import Tokenizer

OPSET = 18
BATCH = "batch"


class _Text(nn.Module):
    def __init__(self, tower):
        super().__init__()
        self.tower = tower

    def forward(self, input_ids, attention_mask):
        return self.tower(input_ids, attention_mask)


EXPORTER_METADATA = "pkg.torch.onnx."


def _drop_exporter_metadata(m) -> int:
    """Remove the exporter's per-node debug metadata (keys starting with EXPORTER_METADATA) from an ONNX
    model in place; returns how many entries went. Nothing the runtime reads is touched."""
    dropped = 0
    for n in m.graph.node:
        keep = [p for p in n.metadata_props if not p.key.startswith(EXPORTER_METADATA)]
        dropped += len(n.metadata_props) - len(keep)
        del n.metadata_props[:]
        n.metadata_props.extend(keep)
    return dropped


def _fix_batch_axis(path: Path, names: list[str]) -> None:
    """Make axis 0 of every graph input/output the symbolic dimension 'batch', and drop the exporter's
    per-node debug metadata (pkg.torch.onnx.*: Python stack traces with this checkout's absolute paths and
    source line numbers, FX node reprs), so a shipped graph holds no developer paths and its bytes do not
    change when a line moves in nets.py or the repository lives elsewhere."""
    import onnx
    m = onnx.load(str(path))
    _drop_exporter_metadata(m)
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in names:
            d0 = v.type.tensor_type.shape.dim[0]
            if d0.HasField("dim_value"):
                raise RuntimeError(f"{path.name}: {v.name} has a fixed batch axis ({d0.dim_value})")
            d0.dim_param = BATCH
    onnx.save(m, str(path))


def export_graph(module: nn.Module, args: tuple, in_names: list[str], out_names: list[str], path: Path) -> None:
    module.eval()
    batch = torch.export.Dim(BATCH, min=1, max=4096)
    dyn = {n: {0: batch} for n in in_names}
    torch.onnx.export(module, args, str(path), input_names=in_names, output_names=out_names,
                      dynamic_shapes=dyn, dynamo=True, external_data=False, opset_version=OPSET,
                      verbose=False)
    _fix_batch_axis(path, in_names + out_names)


# ONNX Runtime (>= 1.2x) fuses a weight-only DequantizeLinear -> MatMul into MatMulNBits and, by default
# (accuracy level 4), quantises the activations to int8 inside it. Those int8 kernels differ by CPU: on x86
# without VNNI (AVX2 only, e.g. AMD Zen 3) their u8 x s8 products saturate, and the shipped int8 text encoder's
# embedding moved by 0.003 against goldens made on a VNNI machine (measured 2026-12-06). Level 1 computes in
# float32 (the fused op then matches the unfused graph to ~1e-7), so every CPU gives the same embedding and
# noise. The generator's weights are also folded to float32 at load (disable_quant_qdq: ~6x faster than
# level 1, a few MB more). The Rust core uses the same settings (core/src/runtime.rs).
ORT_CONFIG = {"session.qdq_matmulnbits_accuracy_level": "1"}
FOLD_INT8_WEIGHTS = {"session.disable_quant_qdq": "1"}


def ort_options(threads: int = 2, optimize: bool = True, fold: bool = False):
    """SessionOptions every Python path that runs bundle graphs uses (the Rust core's settings; `fold` for
    the generator, as the core does)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    for k, v in {**ORT_CONFIG, **(FOLD_INT8_WEIGHTS if fold else {})}.items():
        so.add_session_config_entry(k, v)
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


def ort_session(path: Path, threads: int = 2, optimize: bool = True, fold: bool | None = None):
    """A CPU session on `path`; `fold` defaults to the core's choice (the generator's weights are folded)."""
    import onnxruntime as ort
    fold = Path(path).name == "generator.onnx" if fold is None else fold
    return ort.InferenceSession(str(path), ort_options(threads, optimize, fold), providers=["CPUExecutionProvider"])


def quantize_int8(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    m = onnx.load(str(src))
    del m.graph.value_info[:]           # the exporter's intermediate shapes upset the quantiser's inference
    clean = dst.with_suffix(".noinfo.onnx")
    onnx.save(m, str(clean))
    quantize_dynamic(str(clean), str(dst), weight_type=QuantType.QInt8, per_channel=False,
                     op_types_to_quantize=["MatMul", "Gemm", "Gather"])
    clean.unlink()


def quantize_weights_int8(src: Path, dst: Path, min_elems: int = 4096, names: set[str] | None = None) -> dict:
    """Weight-only int8: every large MatMul/Gemm weight and Gather table (or only those in `names`) is
    stored as int8 with a per-output-channel (per-row for Gather) scale and read through DequantizeLinear;
    activations stay float32, so the error is the weights' rounding only (dynamic activation quantisation
    was measured to be far worse on this encoder). Standard ONNX ops only."""
    import onnx
    from onnx import numpy_helper, helper, TensorProto
    m = onnx.load(str(src))
    del m.graph.value_info[:]
    inits = {i.name: i for i in m.graph.initializer}
    axis_of: dict[str, int] = {}
    for n in m.graph.node:
        if n.op_type == "MatMul" and len(n.input) > 1 and n.input[1] in inits:
            axis_of.setdefault(n.input[1], 1)
        elif n.op_type == "Gemm" and len(n.input) > 1 and n.input[1] in inits:
            tb = next((a.i for a in n.attribute if a.name == "transB"), 0)
            axis_of.setdefault(n.input[1], 0 if tb else 1)
        elif n.op_type == "Gather" and n.input[0] in inits:
            axis_of.setdefault(n.input[0], 0)
    new_nodes, done = [], 0
    for name, axis in axis_of.items():
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        if w.ndim != 2 or w.size < min_elems or (names is not None and name not in names):
            continue
        red = 1 - axis
        scale = np.maximum(np.abs(w).max(axis=red), 1e-12) / 127.0
        q = np.clip(np.round(w / np.expand_dims(scale, red)), -127, 127).astype(np.int8)
        m.graph.initializer.remove(inits[name])
        m.graph.initializer.extend([numpy_helper.from_array(q, name + "_q"),
                                    numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                                    numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), name + "_zp")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"], [name],
                                          name=name + "_dq", axis=axis))
        done += 1
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(new_nodes + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return {"weights_quantised": done}


def int8_candidates(src: Path, min_elems: int = 4096) -> list[str]:
    """The weights quantize_weights_int8 would quantise, by name."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    used = [n.input[1] for n in m.graph.node if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1] + \
           [n.input[0] for n in m.graph.node if n.op_type == "Gather"]
    return [u for u in dict.fromkeys(used) if u in inits and numpy_helper.to_array(inits[u]).ndim == 2
            and numpy_helper.to_array(inits[u]).size >= min_elems]


def quantize_within(src: Path, dst: Path, feeds: dict, ref: np.ndarray, tol: float, scale: float = 1.0) -> dict:
    """Quantise as many weights as keep the graph's output within tol (max |int8 - ref| x scale): every
    weight is tried alone, then they are added in order of their own error while the whole stays within
    tol. Weights the output is sensitive to stay float32. Returns the error, the weights and their errors."""
    probe = dst.with_suffix(".probe.onnx")
    own = {}
    for n in int8_candidates(src):
        quantize_weights_int8(src, probe, names={n})
        own[n] = float(np.abs(ort_session(probe).run(None, feeds)[0] - ref).max() * scale)
    chosen: list[str] = []
    err = 0.0
    for n in sorted(own, key=own.get):
        if own[n] > tol:
            break
        quantize_weights_int8(src, probe, names=set(chosen + [n]))
        e = float(np.abs(ort_session(probe).run(None, feeds)[0] - ref).max() * scale)
        if e <= tol:
            chosen, err = chosen + [n], e
    probe.unlink(missing_ok=True)
    quantize_weights_int8(src, dst, names=set(chosen))
    return {"max_abs": err, "quantised": chosen, "own_error": {k: round(v, 4) for k, v in own.items()}}


def graph_io(path: Path) -> dict:
    import onnx
    m = onnx.load(str(path))
    elem = {1: "float32", 7: "int64"}

    def desc(v):
        dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "dtype": elem.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type)),
                "shape": dims}
    inits = {i.name for i in m.graph.initializer}
    return {"inputs": [desc(v) for v in m.graph.input if v.name not in inits],
            "outputs": [desc(v) for v in m.graph.output], "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


GOLDEN_CAPTIONS = ["a red bicycle", "  My dog  Rex\tin the snow ", "a small green star", "coffee on a wooden table",
                   "Café crème — déjà vu"]


def golden_key(i: int) -> bytes:
    return hashlib.sha256(f"t2ue golden key {i}".encode()).digest()


def image_pattern(R: int) -> np.ndarray:
    c, y, x = np.meshgrid(np.arange(3), np.arange(R), np.arange(R), indexing="ij")
    return (((c + 1) * (x + 2 * y)) % R / R).astype(np.float32)[None]


def export_bundle(sur: Surrogate, gen: Generator, tok: Tokenizer, out: Path, meta: dict, log=print,
                  quantize_text: bool = True, text_int8_tol: float = 0.05, quantize_generator: bool = True,
                  gen_int8_tol_levels: float = 0.5, latent_rule: str = "key") -> dict:
    """Write the bundle into `out` (replaced): format 2 with the `key` latent rule, format 1 for `key-caption`
    (docs/bundle-format.md).
    Returns the parity record."""
    if latent_rule not in LATENT_RULES:
        raise ValueError(f"unknown latent rule {latent_rule!r}")
    R, Z, L, D = gen.resolution, gen.latent_dim, tok.L, gen.embed_dim
    tmp = out.parent / (out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    work = tmp / "_work"
    work.mkdir()
    sur.eval()
    gen.eval()
    parity: dict = {}
    rng = np.random.default_rng(0)
    probe_caps = ["a photo of a cat", "dead frogs", "a blue circle above a red square", "a coat", "x"]
    ids, mask = tok(probe_caps)
    ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)

    # ---- text encoder
    log("[export] text encoder")
    text_fp32 = work / "text_encoder.fp32.onnx"
    export_graph(_Text(sur.text), (ids_t[:2], mask_t[:2]), ["input_ids", "attention_mask"], ["text_embedding"], text_fp32)
    with torch.no_grad():
        ref_t = sur.text(ids_t, mask_t).numpy()
    o32 = ort_session(text_fp32).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    parity["text_encoder_fp32_max_abs"] = float(np.abs(o32 - ref_t).max())
    chosen = text_fp32
    if quantize_text:
        text_i8 = work / "text_encoder.int8.onnx"
        quantize_weights_int8(text_fp32, text_i8)
        o8 = ort_session(text_i8).run(None, {"input_ids": ids, "attention_mask": mask})[0]
        err = float(np.abs(o8 - ref_t).max())
        cos = float((o8 * ref_t).sum(1).min())
        parity["text_encoder_int8_max_abs_vs_pytorch_fp32"] = err
        parity["text_encoder_int8_min_cosine_vs_fp32"] = cos
        if err <= text_int8_tol:
            chosen = text_i8
        parity["text_encoder_shipped"] = "int8 weight-only (per-channel DequantizeLinear), fp32 activations" if chosen == text_i8 else "fp32"
    shutil.copy(chosen, tmp / "text_encoder.onnx")

    # ---- image encoder
    log("[export] image encoder")
    px = torch.from_numpy(np.concatenate([image_pattern(R), rng.random((3, 3, R, R), dtype=np.float32)]))
    export_graph(sur.image, (px[:2],), ["pixels"], ["image_embedding"], tmp / "image_encoder.onnx")
    with torch.no_grad():
        ref_i = sur.image(px).numpy()
    oi = ort_session(tmp / "image_encoder.onnx").run(None, {"pixels": px.numpy()})[0]
    parity["image_encoder_max_abs"] = float(np.abs(oi - ref_i).max())

    # ---- generator
    log("[export] generator")
    et = torch.from_numpy(ref_t.astype(np.float32))
    z = torch.from_numpy(rng.standard_normal((len(et), Z)).astype(np.float32))
    gen_fp32 = work / "generator.fp32.onnx"
    export_graph(gen, (et[:2], z[:2]), ["text_embedding", "z"], ["noise"], gen_fp32)
    with torch.no_grad():
        ref_n = gen(et, z).numpy()
    feeds = {"text_embedding": et.numpy(), "z": z.numpy()}
    on = ort_session(gen_fp32).run(None, feeds)[0]
    parity["generator_max_abs"] = float(np.abs(on - ref_n).max())
    chosen_gen = gen_fp32
    if quantize_generator:
        # weight by weight: a generator that uses z is sensitive to its latent layers' rounding (bundle
        # 1.3.0: the FC(e_t, z) weight alone moves the noise by 2-4 levels), the large linear-path basis is not
        gen_i8 = work / "generator.int8.onnx"
        q = quantize_within(gen_fp32, gen_i8, feeds, ref_n, gen_int8_tol_levels, scale=255.0)
        parity["generator_int8_max_abs_vs_pytorch_fp32_in_8bit_levels"] = q["max_abs"]
        parity["generator_int8_weights"] = q["quantised"]
        parity["generator_int8_own_error_levels"] = q["own_error"]
        if q["quantised"]:
            chosen_gen, on = gen_i8, ort_session(gen_i8).run(None, feeds)[0]
        parity["generator_shipped"] = (f"int8 weight-only for {len(q['quantised'])} of {len(q['own_error'])} large "
                                       "weights (per-channel DequantizeLinear; the others float32), fp32 activations"
                                       if q["quantised"] else "fp32")
    shutil.copy(chosen_gen, tmp / "generator.onnx")
    parity["generator_max_abs_noise"] = float(np.abs(on).max())
    if parity["generator_max_abs_noise"] > gen.epsilon + 1e-7:
        raise RuntimeError("generator output exceeds epsilon")

    shutil.copy(tok.path, tmp / "tokenizer.json")

    # ---- golden vectors, from the shipped graphs (what the Rust core must reproduce)
    log("[export] golden.json")
    golden, pt_err = make_golden(tmp, tok, R, Z, latent_rule, gen)
    parity["golden_noise_max_abs_vs_pytorch"] = pt_err
    (tmp / "golden.json").write_text(json.dumps(golden, indent=1))

    # ---- manifest
    shutil.rmtree(work)
    graphs = {}
    for role, f in (("text_encoder", "text_encoder.onnx"), ("image_encoder", "image_encoder.onnx"),
                    ("generator", "generator.onnx")):
        io = graph_io(tmp / f)
        graphs[role] = {"file": f, "inputs": [{k: v[k] for k in ("name", "dtype", "shape")} for v in io["inputs"]],
                        "outputs": [{k: v[k] for k in ("name", "dtype", "shape")} for v in io["outputs"]]}
    expect = {"text_encoder": ([("input_ids", "int64", [BATCH, L]), ("attention_mask", "int64", [BATCH, L])],
                               [("text_embedding", "float32", [BATCH, D])]),
              "image_encoder": ([("pixels", "float32", [BATCH, 3, R, R])], [("image_embedding", "float32", [BATCH, D])]),
              "generator": ([("text_embedding", "float32", [BATCH, D]), ("z", "float32", [BATCH, Z])],
                            [("noise", "float32", [BATCH, 3, R, R])])}
    for role, (ins, outs) in expect.items():
        got_in = [(v["name"], v["dtype"], v["shape"]) for v in graphs[role]["inputs"]]
        got_out = [(v["name"], v["dtype"], v["shape"]) for v in graphs[role]["outputs"]]
        if got_in != ins or got_out != outs:
            raise RuntimeError(f"{role}: graph I/O {got_in} -> {got_out} differs from the contract {ins} -> {outs}")
    files = {f: {"sha256": sha256(tmp / f), "bytes": (tmp / f).stat().st_size}
             for f in ("tokenizer.json", "text_encoder.onnx", "image_encoder.onnx", "generator.onnx", "golden.json")}
    # format 1 where it suffices (key + caption, the bundles up to 1.2.0), so older SDKs still read it;
    # format 2 declares the rule, so an SDK that cannot follow it refuses the bundle
    manifest = {"format": "t2ue-bundle", "format_version": 1 if latent_rule == "key-caption" else 2,
                "name": meta["name"], "version": meta["version"],
                "resolution": R, "epsilon": gen.epsilon, "latent_dim": Z, "context_length": L, "embed_dim": D,
                **({"latent_rule": latent_rule} if latent_rule != "key-caption" else {}),
                "graphs": graphs, "tokenizer": {"file": "tokenizer.json", "pad_id": tok.pad_id}, "files": files,
                "provenance": {**meta.get("provenance", {}), "parity": parity, "opset": OPSET,
                               "exporter": f"torch {torch.__version__} torch.onnx.export(dynamo=True)",
                               "onnxruntime": _ort_version()}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if out.exists():
        report = out / "REPORT.md"
        if report.exists():
            shutil.copy(report, tmp / "REPORT.md")
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"[export] bundle written: {out} ({sum(v['bytes'] for v in files.values()) / 1e6:.1f} MB)")
    return parity


def _ort_version() -> str:
    import onnxruntime
    return onnxruntime.__version__


def verify_bundle(path: Path) -> dict:
    """Check the manifest's hashes and sizes, graph I/O and the generator bound. Raises on failure."""
    m = json.loads((path / "manifest.json").read_text())
    assert m["format"] == "t2ue-bundle" and m["format_version"] in (1, 2), "unsupported format"
    assert (m["format_version"] == 2) == ("latent_rule" in m), "format 2 and only format 2 declares latent_rule"
    manifest_latent_rule(m)
    for f, info in m["files"].items():
        p = path / f
        assert p.stat().st_size == info["bytes"], f"{f}: size mismatch"
        assert sha256(p) == info["sha256"], f"{f}: sha256 mismatch"
    for role, g in m["graphs"].items():
        io = graph_io(path / g["file"])
        for a, b in ((io["inputs"], g["inputs"]), (io["outputs"], g["outputs"])):
            assert [(v["name"], v["dtype"], v["shape"]) for v in a] == [(v["name"], v["dtype"], v["shape"]) for v in b], role
    return m


def make_golden(bundle: Path, tok: Tokenizer, R: int, Z: int, latent_rule: str, gen: Generator | None = None):
    """golden.json's content from the graphs in `bundle`, run as the core runs them (ort_options), and the
    max |noise - PyTorch generator| over its cases (None without `gen`)."""
    st, sg, si = (ort_session(bundle / f) for f in ("text_encoder.onnx", "generator.onnx", "image_encoder.onnx"))
    cases, pt_err = [], None
    for i, cap in enumerate(GOLDEN_CAPTIONS):
        key = golden_key(i)
        gi, gm = tok([cap])
        zz = latent_for(latent_rule, key, cap, Z)[None]
        e = st.run(None, {"input_ids": gi, "attention_mask": gm})[0]
        n = sg.run(None, {"text_embedding": e, "z": zz})[0][0]
        flat = n.reshape(-1)
        if gen is not None:
            with torch.no_grad():       # PyTorch generator on the same inputs: parity of the golden noise
                pt = gen(torch.from_numpy(e), torch.from_numpy(zz)).numpy()[0]
            pt_err = max(pt_err or 0.0, float(np.abs(pt - n).max()))
        cases.append({"caption": cap, "normalised_caption": normalise_caption(cap), "key_hex": key.hex(),
                      "input_ids": gi[0].tolist(), "attention_mask": gm[0].tolist(),
                      "z": [float(v) for v in zz[0]], "text_embedding": [float(v) for v in e[0]],
                      "noise_stats": {"mean": float(flat.mean()), "abs_mean": float(np.abs(flat).mean()),
                                      "min": float(flat.min()), "max": float(flat.max())},
                      "noise_sample": {"stride": 97, "values": [float(v) for v in flat[::97]]}})
    img = si.run(None, {"pixels": image_pattern(R)})[0][0]
    golden = {"tolerance": {"text_embedding": 1e-4, "noise": 1e-5, "image_embedding": 1e-4},
              "source": "onnxruntime %s on the shipped graphs (%s); z from t2ue_models.kdf (hmac/hashlib), latent "
                        "rule %s" % (_ort_version(), ", ".join(f"{k}={v}" for k, v in ORT_CONFIG.items()), latent_rule),
              "cases": cases,
              "image_case": {"pattern": "p[c,y,x] = ((c + 1) * (x + 2*y) mod R) / R",
                             "image_embedding": [float(v) for v in img]}}
    return golden, pt_err


def regolden(bundle: Path, note: str, log=print) -> dict:
    """Rewrite a committed bundle's golden.json from its own graphs (they are not touched) and the manifest's
    entry for it, atomically; `note` (why) goes into manifest.provenance.golden. Returns the largest change of
    a golden text embedding and noise value."""
    m = json.loads((bundle / "manifest.json").read_text())
    old = json.loads((bundle / "golden.json").read_text())
    tok = Tokenizer(bundle / "tokenizer.json", m["context_length"], m["tokenizer"]["pad_id"])
    golden, _ = make_golden(bundle, tok, m["resolution"], m["latent_dim"], manifest_latent_rule(m))
    moved = {"text_embedding": max(float(np.abs(np.subtract(a["text_embedding"], b["text_embedding"])).max())
                                   for a, b in zip(old["cases"], golden["cases"])),
             "noise": max(float(np.abs(np.subtract(a["noise_sample"]["values"], b["noise_sample"]["values"])).max())
                          for a, b in zip(old["cases"], golden["cases"])),
             "image_embedding": float(np.abs(np.subtract(old["image_case"]["image_embedding"],
                                                         golden["image_case"]["image_embedding"])).max())}
    tmp_g, tmp_m = bundle / "golden.json.tmp", bundle / "manifest.json.tmp"
    tmp_g.write_text(json.dumps(golden, indent=1))
    m["files"]["golden.json"] = {"sha256": sha256(tmp_g), "bytes": tmp_g.stat().st_size}
    m["provenance"]["golden"] = {"regenerated": note, "moved": moved, "onnxruntime": _ort_version(),
                                 "session_config": ORT_CONFIG}
    tmp_m.write_text(json.dumps(m, indent=1))
    tmp_g.replace(bundle / "golden.json")
    tmp_m.replace(bundle / "manifest.json")
    log(f"[regolden] {bundle}: {json.dumps(moved)}")
    return moved


def _same_computation(old: Path, new: Path, feeds: dict) -> bool:
    """Both graphs give bit-identical outputs on `feeds` (single-threaded sessions: deterministic)."""
    fold = old.name == "generator.onnx"         # as the core runs it, whatever the staged file's name
    a = ort_session(old, threads=1, fold=fold).run(None, feeds)
    b = ort_session(new, threads=1, fold=fold).run(None, feeds)
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _rewrite_size_section(bundle: Path) -> None:
    """Bring a bundle REPORT.md's size table in line with its manifest (the rest of the report is untouched)."""
    import re
    from .report import SIZE_HEADING, size_section
    rep = bundle / "REPORT.md"
    if not rep.exists():
        return
    text = rep.read_text()
    pat = re.compile(re.escape(SIZE_HEADING) + r".*?Total \(with manifest\.json\): [0-9.]+ MB\.\n", re.S)
    if not pat.search(text):
        raise RuntimeError(f"{rep}: no size section to update")
    tmp = bundle / "REPORT.md.tmp"
    tmp.write_text(pat.sub(lambda _: size_section(bundle), text, count=1))
    tmp.replace(rep)


def strip_bundle(bundle: Path, note: str, log=print) -> dict:
    """Drop the exporter's debug metadata (stack traces with the building machine's paths) from a committed
    bundle's graphs, the rule export_graph applies to every new export, and update the manifest's file
    entries. The computation must not change: each stripped graph has to give bit-identical outputs to the
    original on the golden inputs, or nothing is replaced and RuntimeError is raised. The previous hashes go
    into manifest.provenance.stripped (efficacy reports name the generator by its sha256).
    Returns {file: entries dropped}; a bundle with nothing to drop is left as it is."""
    import onnx
    m = verify_bundle(bundle)
    golden = json.loads((bundle / "golden.json").read_text())
    col = lambda k, t: np.array([c[k] for c in golden["cases"]], t)        # noqa: E731
    feeds = {m["graphs"]["text_encoder"]["file"]: {"input_ids": col("input_ids", np.int64),
                                                   "attention_mask": col("attention_mask", np.int64)},
             m["graphs"]["generator"]["file"]: {"text_embedding": col("text_embedding", np.float32),
                                                "z": col("z", np.float32)},
             m["graphs"]["image_encoder"]["file"]: {"pixels": image_pattern(m["resolution"])}}
    staged: dict[str, tuple[Path, int]] = {}
    try:
        for f in sorted(feeds):
            g = onnx.load(str(bundle / f))
            n = _drop_exporter_metadata(g)
            if n:
                tmp = bundle / (f + ".tmp")
                staged[f] = (tmp, n)
                onnx.save(g, str(tmp))
                if not _same_computation(bundle / f, tmp, feeds[f]):
                    raise RuntimeError(f"{bundle / f}: the stripped graph does not compute the same outputs")
    except BaseException:
        for tmp, _ in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    if not staged:
        log(f"[strip] {bundle}: nothing to drop")
        return {}
    previous = {f: dict(m["files"][f]) for f in staged}
    for f, (tmp, _) in staged.items():
        m["files"][f] = {"sha256": sha256(tmp), "bytes": tmp.stat().st_size}
    m["provenance"]["stripped"] = {"note": note, "metadata_dropped": EXPORTER_METADATA + "* on nodes",
                                   "entries": {f: n for f, (_, n) in staged.items()}, "previous": previous}
    tmp_m = bundle / "manifest.json.tmp"
    tmp_m.write_text(json.dumps(m, indent=1))
    for f, (tmp, _) in staged.items():
        tmp.replace(bundle / f)
    tmp_m.replace(bundle / "manifest.json")
    verify_bundle(bundle)
    _rewrite_size_section(bundle)
    log(f"[strip] {bundle}: " + ", ".join(f"{f} -{n} entries, {previous[f]['bytes']} -> {m['files'][f]['bytes']} bytes"
                                         for f, (_, n) in staged.items()))
    return {f: n for f, (_, n) in staged.items()}


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description="bundle maintenance (the export itself runs in t2ue_models.pipeline)")
    act = ap.add_mutually_exclusive_group(required=True)
    act.add_argument("--regolden", nargs="+", metavar="BUNDLE",
                     help="rewrite these bundles' golden.json from their graphs, as the core runs them")
    act.add_argument("--strip", nargs="+", metavar="BUNDLE",
                     help="drop the exporter's debug metadata from these bundles' graphs (their outputs on the "
                          "golden inputs must stay bit-identical) and update their manifests and REPORT.md sizes")
    ap.add_argument("--note", required=True, help="why (kept in manifest.provenance.golden / .stripped)")
    a = ap.parse_args(argv)
    for b in a.regolden or []:
        regolden(Path(b), a.note)
        verify_bundle(Path(b))
    for b in a.strip or []:
        strip_bundle(Path(b), a.note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
