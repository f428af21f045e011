"""The efficacy report's judgement lines: transformed clean runs are controls, not the clean baseline."""
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
