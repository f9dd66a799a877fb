"""The gate on literal metrics: promote on no regression, reject naming metric, values, delta, tolerance."""

import pytest

from logtune.gate import GateError, compare, flips

TOL = {"accuracy": 0.0, "refusal_accuracy": 0.0, "hallucinated_id_rate": 0.0}


def metrics(accuracy=0.5, refusal_accuracy=0.8, hallucinated_id_rate=0.2, n_cases=10, **extra):
    return dict(accuracy=accuracy, refusal_accuracy=refusal_accuracy,
                hallucinated_id_rate=hallucinated_id_rate, n_cases=n_cases, **extra)


def test_candidate_equal_or_better_is_promoted():
    m = {"base": metrics(), "dpo": metrics(accuracy=0.6, hallucinated_id_rate=0.1)}
    g = compare(m, "dpo", "base", TOL)
    assert g["decision"] == "promote" and g["reasons"] == []
    assert g["metrics"]["hallucinated_id_rate"]["ok"] is True
    assert g["metrics"]["accuracy"]["delta"] == pytest.approx(0.1)


def test_accuracy_drop_is_rejected_with_values_delta_and_tolerance():
    g = compare({"base": metrics(), "dpo": metrics(accuracy=0.4)}, "dpo", "base", TOL)
    assert g["decision"] == "reject" and g["metrics"]["accuracy"]["ok"] is False
    (reason,) = g["reasons"]
    assert "accuracy: baseline 0.5000, candidate 0.4000, delta -0.1000 exceeds tolerance 0.0000" in reason


def test_more_hallucinated_ids_is_a_regression_because_lower_is_better():
    g = compare({"base": metrics(), "dpo": metrics(hallucinated_id_rate=0.3)}, "dpo", "base", TOL)
    assert g["decision"] == "reject" and g["reasons"][0].startswith("hallucinated_id_rate:")


def test_regression_within_tolerance_is_promoted():
    g = compare({"base": metrics(), "dpo": metrics(accuracy=0.45)}, "dpo", "base", dict(TOL, accuracy=0.05))
    assert g["decision"] == "promote"


def test_null_metric_is_skipped_not_passed_silently():
    m = {"base": metrics(refusal_precision=None), "dpo": metrics(refusal_precision=0.9)}
    g = compare(m, "dpo", "base", dict(TOL, refusal_precision=0.0))
    assert g["decision"] == "promote" and g["skipped"] == ["refusal_precision"]
    assert g["metrics"]["refusal_precision"]["ok"] is None


def test_different_case_counts_are_rejected_as_not_comparable():
    g = compare({"base": metrics(), "dpo": metrics(n_cases=9)}, "dpo", "base", TOL)
    assert g["decision"] == "reject" and "not the same golden set" in g["reasons"][0]


def test_unknown_metric_in_tolerances_is_an_error():
    with pytest.raises(GateError, match="unknown metric 'acuracy'"):
        compare({"base": metrics(), "dpo": metrics()}, "dpo", "base", {"acuracy": 0.0})


def test_missing_model_is_an_error():
    with pytest.raises(GateError, match="model 'dpo' not in eval metrics"):
        compare({"base": metrics()}, "dpo", "base", TOL)


def test_flips_list_fixed_and_broken_cases():
    rows = [{"model": "base", "case_id": "g1", "passed": True}, {"model": "dpo", "case_id": "g1", "passed": False},
            {"model": "base", "case_id": "g2", "passed": False}, {"model": "dpo", "case_id": "g2", "passed": True},
            {"model": "base", "case_id": "g3", "passed": True}, {"model": "dpo", "case_id": "g3", "passed": True},
            {"model": "sft", "case_id": "g1", "passed": True}]
    assert flips(rows, "dpo", "base") == {"fixed": ["g2"], "broken": ["g1"], "n_fixed": 1, "n_broken": 1}


def test_repo_params_gate_section_builds_and_names_known_metrics(repo_root):
    from logtune.gate import GateParams, check_tolerances
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "gate", GateParams)
    check_tolerances(p.tolerances)
    assert p.candidate != p.baseline and "accuracy" in p.tolerances
