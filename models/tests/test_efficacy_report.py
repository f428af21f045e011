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


def test_a_report_that_accumulates_runs_names_every_invocation_behind_it(tmp_path):
    import json

    from t2ue_models.efficacy_report import command_history, write_report
    meta = {"bundle": "b", "bundle_version": "1", "generator_sha256": "0" * 64, "threads": 2, "seed": 0,
            "machine": "x86_64", "steps": "clipB=85"}
    def full(v: dict) -> dict:          # a whole CLIP result, as the report prints it
        d = {"R@1": 1.0, "R@5": 5.0, "R@10": 10.0, "MedR": 50}
        return {**v, "steps": 85, "test": {**v["test"], "i2t": d, "t2i": d, "i2t_random": d, "t2i_random": d}}

    results = {k: full(v) for k, v in RESULTS.items()}
    first = {k: v for k, v in results.items() if k.startswith("clean")}
    hist = command_history(tmp_path, first, "cmd one")
    assert hist == ["cmd one"]
    write_report(tmp_path, first, {}, {}, {**meta, "command": "cmd one", "commands": hist})
    assert "Generated by `cmd one` on " in (tmp_path / "REPORT.md").read_text()
    # a second invocation on the same work directory: its cells include the first report's
    hist = command_history(tmp_path, results, "cmd two")
    assert hist == ["cmd one", "cmd two"]
    assert command_history(tmp_path, results, "cmd one") == ["cmd one"]          # a rerun is not listed twice
    write_report(tmp_path, results, {}, {}, {**meta, "command": "cmd two", "commands": hist})
    head = (tmp_path / "REPORT.md").read_text().splitlines()[2]
    assert head.startswith("Generated by 2 invocations, in order") and "`cmd one`; `cmd two`, last on " in head
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["commands"] == hist
    # a report whose earlier cells are gone (another work directory) starts a new history
    assert command_history(tmp_path, {"t2ue|clipB|": results["t2ue|clipB|"]}, "cmd three") == ["cmd three"]
    # an unreadable earlier results.json does not stop the report
    (tmp_path / "results.json").write_text("{not json")
    assert command_history(tmp_path, results, "cmd four") == ["cmd four"]


def test_efficacy_refuses_a_misspelt_augmentation_before_doing_anything(tmp_path):
    from pathlib import Path
    from t2ue_models import efficacy
    bundle = Path(__file__).resolve().parent.parent / "bundles" / "clipart-mnv2-minilm"
    for bad in ["uerasr", "heavy+max5"]:
        assert efficacy.main(["--bundle", str(bundle), "--work", str(tmp_path / "w"), "--report",
                              str(tmp_path / "rep"), "--augment", "rrc," + bad]) == 2
    assert not (tmp_path / "w").exists() and not (tmp_path / "rep").exists()
    for bad in ["1,x", "1,1", "-2"]:                # before 2026-12-08 these failed only after the sets were made
        assert efficacy.main(["--bundle", str(bundle), "--work", str(tmp_path / "w"), "--report",
                              str(tmp_path / "rep"), "--hacker-seeds", bad]) == 2
    assert not (tmp_path / "w").exists() and not (tmp_path / "rep").exists()


def test_int_list_parses_what_the_commands_take_and_names_the_option():
    from t2ue_models.cli_args import int_list
    assert int_list("0,1, 2", "--s") == [0, 1, 2] and int_list(" 3 ,", "--s") == [3]
    assert int_list("", "--s", required=False) == [] and int_list("4500", "--at", minimum=1) == [4500]
    for text, kw, words in [("1,x", {}, "integers"), ("", {}, "at least one"), (",", {}, "at least one"),
                            ("1,1", {}, "twice"), ("-1", {}, "at least 0"), ("0", {"minimum": 1}, "at least 1"),
                            ("1.5", {}, "integers")]:
        with pytest.raises(ValueError) as e:
            int_list(text, "--opt", **kw)
        assert "--opt" in str(e.value) and words in str(e.value)
