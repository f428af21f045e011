"""The efficacy report's judgement lines: transformed clean runs are controls, not the clean baseline."""
import pytest

from t2ue_models.efficacy_report import _controls, targets


def clip(i2t: float, t2i: float) -> dict:
    return {"kind": "clip", "test": {"R@10_over_random": {"i2t": i2t, "t2i": t2i}}}


RESULTS = {
    "clean|clipB|": clip(12.4, 12.6),
    "clean|clipB|jpeg75": clip(11.1, 11.6),
    "t2ue|clipB|": clip(10.3, 9.9),
    "t2ue|clipB|jpeg75": clip(10.6, 11.6),
    "t2ue|clipB|blur1": clip(7.8, 7.6),      # no clean control for blur here
    "em|clipB|jpeg75": clip(10.0, 10.5),
}


def test_the_clean_line_is_the_untransformed_run():
    lines = [x for x in targets(RESULTS, {}) if x.startswith("clean training")]
    assert lines == ["clean training, clipB: R@10 / random = 12.60 (the hacker must clearly beat random on clean "
                     "data for the T2UE figure to mean anything)"]


def test_a_transformed_t2ue_line_cites_its_clean_control_when_there_is_one():
    lines = targets(RESULTS, {})
    jpeg = next(x for x in lines if "after jpeg75" in x)
    assert "**missed**" in jpeg and jpeg.endswith("clean data under the same transform: 11.60")
    blur = next(x for x in lines if "after blur1" in x)
    assert "clean data under" not in blur


def test_controls_pair_each_transform_with_clean_data():
    rows = _controls(RESULTS)
    assert list(rows) == [("clipB", ""), ("clipB", "jpeg75")]      # blur1 has no clean control
    assert rows[("clipB", "jpeg75")] == {"clean": 11.6, "t2ue": 11.6, "em": 10.5}
    assert rows[("clipB", "")] == {"clean": 12.6, "t2ue": 10.3}
    assert _controls({k: v for k, v in RESULTS.items() if k != "clean|clipB|jpeg75"}) == {}


def cls(acc: float) -> dict:
    return {"kind": "classifier", "test": {"accuracy": acc, "random": 10.0}}


def test_a_transformed_classifier_run_is_a_robustness_figure_not_the_target():
    res = {"clean|cls|": cls(86.2), "t2ue|cls|": cls(47.2), "clean|cls|jpeg75": cls(85.0), "t2ue|cls|jpeg75": cls(70.0)}
    lines = [x for x in targets(res, {}) if "classifier" in x]
    assert len([x for x in lines if "target <= 20 %" in x]) == 1           # the untransformed run only
    assert any(x.startswith("T2UE Fashion-MNIST classifier accuracy 47.2 %") for x in lines)
    assert ("T2UE Fashion-MNIST classifier after jpeg75: accuracy 70.0 % (no target; robustness figure; clean data "
            "under the same transform: 85.0 %)") in lines
    assert _controls(res) == {("cls", ""): {"clean": 86.2, "t2ue": 47.2}, ("cls", "jpeg75"): {"clean": 85.0, "t2ue": 70.0}}


def test_cached_t2ue_sets_must_come_from_this_bundles_generator(tmp_path):
    """A work directory's T2UE sets are reported under the bundle only if its generator (or the same graph before
    `export --strip`, listed in the manifest) wrote them; another generator's sets are refused."""
    import json as _json
    from t2ue_models.efficacy import t2ue_sets_made_by
    from t2ue_models.efficacy_report import _sets_maker
    new, old, other = "ab" * 32, "42e446d3c762" + "0" * 52, "cd" * 32
    man = {"files": {"generator.onnx": {"sha256": new}},
           "provenance": {"stripped": {"previous": {"generator.onnx": {"sha256": old}}}}}

    def work_with(name, cost):
        w = tmp_path / name
        (w / "t2ue" / "fmnist_train").mkdir(parents=True)
        (w / "t2ue" / "fmnist_train" / "cost.json").write_text(_json.dumps(cost))
        return w
    assert t2ue_sets_made_by(tmp_path / "empty", man) is None
    assert t2ue_sets_made_by(work_with("a", {"generator_sha256": new}), man) == (new, "recorded when the set was written")
    assert t2ue_sets_made_by(work_with("b", {"generator_sha256": old}), man)[0] == old
    with pytest.raises(ValueError, match="not by this bundle's"):
        t2ue_sets_made_by(work_with("c", {"generator_sha256": other}), man)
    assert t2ue_sets_made_by(work_with("42e446d3c762", {}), man) == (old, "inferred from the work directory's name")
    assert t2ue_sets_made_by(work_with("mywork", {}), man) == ("", "not recorded")
    assert _sets_maker({}) == ""
    assert "`42e446d3c7620000…`" in _sets_maker({"t2ue_sets_generator": {"sha256": old, "how": "recorded"}})
    assert "not recorded" in _sets_maker({"t2ue_sets_generator": {"sha256": "", "how": "not recorded"}})


def test_efficacy_refuses_a_work_directory_of_another_generator_before_doing_anything(tmp_path):
    import json as _json
    from pathlib import Path
    from t2ue_models import efficacy
    bundle = Path(__file__).resolve().parent.parent / "bundles" / "clipart-mnv2-minilm"
    (tmp_path / "t2ue" / "clipart_train").mkdir(parents=True)
    (tmp_path / "t2ue" / "clipart_train" / "cost.json").write_text(_json.dumps({"generator_sha256": "cd" * 32}))
    assert efficacy.main(["--bundle", str(bundle), "--work", str(tmp_path), "--report", str(tmp_path / "rep"),
                          "--data-dir", str(tmp_path / "no-data")]) == 2
    assert not (tmp_path / "rep").exists() and not (tmp_path / "clean").exists() and not (tmp_path / "key.hex").exists()
