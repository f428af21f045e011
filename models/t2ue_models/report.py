"""REPORT.md for a bundle, from the measured figures of the pipeline run (nothing hard-coded)."""
from __future__ import annotations

import json
import math
import platform
from pathlib import Path


def _mb(p: Path) -> float:
    return p.stat().st_size / 1e6


def _fmt_ret(r: dict) -> str:
    return (f"| I2T | {r['i2t_R@1']} | {r['i2t_R@5']} | {r['i2t_R@10']} | {r['i2t_MedR']:.0f} |\n"
            f"| T2I | {r['t2i_R@1']} | {r['t2i_R@5']} | {r['t2i_R@10']} | {r['t2i_MedR']:.0f} |\n"
            f"| random guess | {r['random_R@1']} | {round(5 * r['random_R@1'], 2)} | {r['random_R@10']} | {r['n'] // 2} |")


SIZE_HEADING = "## Size\n"


def size_section(bundle: Path) -> str:
    """REPORT.md's size table, from the manifest (export.strip_bundle rewrites it when the graphs change)."""
    m = json.loads((bundle / "manifest.json").read_text())
    files = sorted(m["files"].items())
    size = sum(v["bytes"] for _, v in files) + (bundle / "manifest.json").stat().st_size
    rows = "\n".join(f"| {f} | {v['bytes']} | `{v['sha256'][:16]}…` |" for f, v in files)
    return f"{SIZE_HEADING}\n| file | bytes | sha256 |\n|---|---|---|\n{rows}\n\nTotal (with manifest.json): {size / 1e6:.2f} MB.\n"


def write_report(out: Path, stats, cost, sres, gres, bres, iq, parity, total_s: float) -> Path:
    m = json.loads((out / "manifest.json").read_text())
    ev = gres["eval"]
    L = []
    a = L.append
    a(f"# Bundle `{m['name']}` {m['version']}\n")
    a("Made by `models/scripts/pipeline.sh` (= `python -m t2ue_models.pipeline`), seeded; every figure "
      "below was measured by that run (CPU: %s, torch threads 2, shared with other jobs).\n" % platform.machine())
    a(f"Recipe: `{m['provenance']['recipe']}`\n")
    a("## Data\n")
    a(f"- Open Clip Art (Debian `openclipart-svg`): drawings with a human-written `<dc:title>` (author names "
      f"typed as titles dropped), titles cleaned into captions, de-duplicated by caption and by pixels, "
      f"rasterised with `rsvg-convert` at {stats['resolution']} px: **{stats['clipart_train']} train / "
      f"{stats['clipart_test']} test** pairs (seeded split, seed {stats['split_seed']}).")
    a(f"- Procedural scenes (skimage.draw, compositional captions such as \"a red star above a blue square\"): "
      f"{stats['shapes_train']} train / {stats['shapes_test']} test.")
    a(f"- Fashion-MNIST (Debian `dataset-fashion-mnist`) with caption templates: {stats['fmnist_train']} train / "
      f"{stats['fmnist_test']} test (supervised-transfer set).")
    c = cost["ms_per_image_fwd_bwd"]
    a(f"- Resolution R = {m['resolution']}: measured surrogate image forward+backward cost per image "
      + ", ".join(f"{k} px: {v} ms" for k, v in c.items())
      + ". Cost grows ~R^2 and generator training, EM and MEM all run this step thousands of times on 2 "
        "shared CPU cores, so R is the 64 px floor.\n")
    a("## Surrogate CLIP\n")
    a(f"{m['provenance']['surrogate']}. Frozen-feature extraction {sres['feature_seconds']} s, projection "
      f"training {sres['head_training_seconds']} s ({sres['steps']} steps, {sres['train_pairs']} pairs, "
      f"{sres['train_captions']} distinct captions); learned temperature {sres['temperature']}.\n")
    a(f"Retrieval on the {sres['eval']['clipart_test']['n']} held-out clip-art pairs (%, higher is better):\n")
    a("| direction | R@1 | R@5 | R@10 | MedR |\n|---|---|---|---|---|")
    a(_fmt_ret(sres["eval"]["clipart_test"]) + "\n")
    st = sres["eval"]["shapes_test"]
    a(f"Procedural scenes test (n={st['n']}): I2T R@1/5/10 {st['i2t_R@1']}/{st['i2t_R@5']}/{st['i2t_R@10']}, "
      f"T2I {st['t2i_R@1']}/{st['t2i_R@5']}/{st['t2i_R@10']}. Fashion-MNIST zero-shot accuracy "
      f"(\"a photo of a {{class}}.\"): {sres['eval']['fmnist_zero_shot_acc']} %. Only the projections and "
      "temperature are trained; unfreezing tower layers was not tried in this run.\n")
    a("## T2UE generator\n")
    tr = gres["train"]
    a(f"{m['provenance']['generator']}. {gres['params'] / 1e6:.2f} M parameters, batch {gres['batch']}, "
      f"AdamW {gres.get('lr', 1e-3):g} with warm-up + cosine, {tr['steps']} steps in {tr['seconds'] / 60:.1f} min; final "
      f"training loss (mean of last 50 steps, mismatched carriers and targets) {tr['final_loss_avg50']:.3f}.\n")
    if gres.get("rms_cap_levels"):
        p1 = gres["phase1"]["eval_clipart_test"]
        a(f"Energy cap: the exported graph scales delta down wherever its RMS exceeds {gres['rms_cap_levels']:g}/255 "
          f"(PSNR >= {20 * math.log10(255 / gres['rms_cap_levels']):.1f} dB before 8-bit rounding; issue 5's 35 dB "
          f"target). Cost in surrogate space (unseen clip-art test captions, plain): protected loss "
          f"{p1['plain_protected']['infonce_batch100']:.3f} uncapped -> {ev['clipart_test']['plain_protected']['infonce_batch100']:.3f} capped "
          f"(clean {p1['plain_clean']['infonce_batch100']:.3f})"
          + (f"; monitor pairs with the cap {gres['cap_heldout'][1]:.3f} -> {gres['cap_heldout'][2]:.3f}"
             if gres.get("cap_heldout") else "") + ".\n")
    hc = tr.get("heldout_curve") or []
    if hc:
        a("Monitor during training (first %d clip-art test pairs: captions never trained on, images the surrogate "
          "never fitted; InfoNCE over batches of 100, clean -> protected): " % gres.get("monitor_pairs", 300)
          + ", ".join(f"step {st}: {c:.3f} -> {p:.3f}" for st, c, p in hc[:: max(1, len(hc) // 8)] + hc[-1:]) + ".\n")
    a("Contrastive loss in surrogate space, **unseen test captions** (the generator never saw them), symmetric "
      "InfoNCE over batches of 100, images quantised to 8 bit. `plain`: x + delta at R. `scraper`: delta "
      "cyclically shifted (as a crop of the tiled photo sees it), random resized crop, real JPEG q75 (PIL). "
      "`wrong_key`: the regeneration attack, the same caption's noise under a guessed key subtracted from the "
      "protected image.\n")
    a("| set | setting | clean loss | protected loss | clean pos. cosine | protected pos. cosine | clean I2T R@1 | protected I2T R@1 |")
    a("|---|---|---|---|---|---|---|---|")
    for name in ("clipart_test", "fmnist_test", "clipart_train"):
        if name not in ev:
            continue
        e = ev[name]
        for s in ("plain", "scraper", "wrong_key"):
            if f"{s}_clean" not in e:
                continue
            cl, pr = e[f"{s}_clean"], e[f"{s}_protected"]
            key = [k for k in cl if k.startswith("infonce")][0]
            a(f"| {name} | {s} | {cl[key]} | {pr[key]} | {cl['pos_cosine']} | {pr['pos_cosine']} | "
              f"{cl['i2t_R@1']} | {pr['i2t_R@1']} |")
    pc, pp = ev["clipart_test"]["plain_clean"], ev["clipart_test"]["plain_protected"]
    key = [k for k in pc if k.startswith("infonce")][0]
    ratio = pp[key] / pc[key]
    verdict = ("protected pairs have a far lower contrastive loss than clean ones" if ratio < 0.5 else
               "protected pairs have a lower contrastive loss than clean ones, but not far lower" if ratio < 0.95 else
               "**the generator does NOT lower the contrastive loss of unseen test pairs: this bundle does not yet "
               "protect**")
    a(f"\nVerdict on unseen clip-art test pairs (plain): protected/clean loss = {ratio:.3f}: {verdict}.")
    if "clipart_train" in ev:
        tc, tp = ev["clipart_train"]["plain_clean"], ev["clipart_train"]["plain_protected"]
        a(f"\nOn 500 *training* pairs (captions the generator was fitted on: the paper's setting, where the "
          f"generator is trained on the set it protects): protected/clean loss = {tp[key] / tc[key]:.3f} "
          f"(the surrogate was also fitted on these pairs, so their clean loss is already low).")
    a(f"\n(R@1 here is within each set of {ev['clipart_test']['n']}; delta L-inf {ev['clipart_test']['delta_linf_255']}/255, "
      f"mean |delta| {ev['clipart_test']['delta_mean_abs_255']}/255.)\n")
    a("## Image quality of protected photos\n")
    a("Real photos from scikit-image, protected at full resolution with the core's placement rule (tile scaled "
      "to the shorter side, centred, repeated; bilinear with wrap-around; 8-bit add with saturation), key = 32 "
      "zero bytes:\n")
    a("| photo | size | PSNR (dB) | SSIM | max change (8-bit levels) |\n|---|---|---|---|---|")
    for k, v in iq.items():
        a(f"| {k} | {v['size']} | {v['psnr_db']} | {v['ssim']} | {v['linf_8bit']} |")
    a("\n## Export and parity\n")
    a("`torch.onnx.export(dynamo=True, external_data=False)`, opset 18, axis 0 symbolic (`batch`). Max |PyTorch "
      "- onnxruntime| on probe inputs:\n")
    for k, v in parity.items():
        a(f"- {k}: {v:.3g}" if isinstance(v, float) else f"- {k}: {v}")
    a("\ngolden.json holds the outputs of the *shipped* graphs under onnxruntime (for an int8 text encoder, its "
      "values, not PyTorch fp32's), with z from an independent hmac/hashlib implementation of the KDF.\n")
    if bres:
        a("## Baselines (same frozen surrogate, same test pairs)\n")
        a(f"First {bres['n_images']} clip-art test pairs; clean loss {bres['clean_infonce']} (batch {bres['eval_batch']}). "
          "EM = per-sample PGD image noise; MEM-k = PGD + k-token HotFlip trigger + caption shuffling "
          "(10 rounds: HotFlip in rounds 0-2, then PGD 8 steps of 1/255 per round). Unlike the MEM paper, the surrogate "
          "is frozen (not trained from scratch during poisoning). Seconds per image on this CPU "
          f"({bres['threads']} torch thread(s), CPU shared with other jobs; T2UE = text encoder + generator forward):\n")
        a("| method | s / image | protected loss | L-inf (/255) |\n|---|---|---|---|")
        for k in ("EM", "MEM-3", "MEM-5", "T2UE"):
            if k in bres:
                b = bres[k]
                a(f"| {k} | {b['seconds_per_image']} | {b['protected_infonce']} | {b['linf_255']} |")
        a("")
    a(size_section(out))
    a(f"Pipeline wall time of the run that wrote this file (cached stages are not re-timed): {total_s / 60:.1f} min.\n")
    p = out / "REPORT.md"
    p.write_text("\n".join(L) + "\n")
    return p
