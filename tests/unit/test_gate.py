"""The gate on literal per-case results: bootstrap intervals, the decision rules, flips, tags, baselines."""

import json
from pathlib import Path

import numpy as np
import pytest

from logtune.scores import mean_scores
from logtune.gate.decide import (BootstrapParams, GateError, GateParams, bootstrap_delta, decide, flips, judge_delta,
                          resample_counts)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"
TOL = {"accuracy": 0.0, "refusal_accuracy": 0.0, "hallucinated_id_rate": 0.0}


def rows_from(base: list[dict], cand: list[dict], tags=None, names=("base", "preference")) -> list[dict]:
    """EVAL_RESULT rows for two models from per-case score dicts (`passed` = accuracy == 1)."""
    rows = []
    for name, values in zip(names, (base, cand)):
        for i, scores in enumerate(values):
            rows.append({"case_id": f"c{i:03d}", "model": name, "reply": f"{name} reply {i}",
                         "passed": scores.get("accuracy") == 1.0, "tags": (tags or {}).get(i, []),
                         "case_type": "answer", "scores": json.dumps(scores)})
    return rows


def acc(*flags) -> list[dict]:
    return [{"accuracy": float(f), "refusal_accuracy": 1.0, "hallucinated_id_rate": 0.0} for f in flags]


def params(**kw) -> GateParams:
    kw.setdefault("tolerances", TOL)
    kw.setdefault("bootstrap", BootstrapParams(n_resamples=1000, confidence=0.95, seed=0, correction="none"))
    return GateParams(**kw)


# ----------------------------------------------------------------------------------- the interval

def test_constant_shift_gives_a_degenerate_interval_at_the_shift():
    rng = np.random.default_rng(1)
    base = list(rng.uniform(0, 0.7, size=150))
    cand = [b + 0.25 for b in base]
    stat = bootstrap_delta(base, cand, resample_counts(150, 1000, 0), 0.95)
    assert stat["delta"] == pytest.approx(0.25)
    assert stat["ci_low"] == pytest.approx(0.25) and stat["ci_high"] == pytest.approx(0.25)


def test_interval_covers_a_known_paired_bernoulli_difference_about_95_percent_of_the_time():
    # Each case: baseline passes with p 0.5; the candidate keeps a pass with p 0.9 and fixes a failure
    # with p 0.3: P(candidate passes) = 0.5*0.9 + 0.5*0.3 = 0.6, so the true delta is +0.10, and the
    # two models are correlated per case as real paired results are.
    true_delta, n_cases, hits, seeds = 0.10, 150, 0, 300
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        base = rng.random(n_cases) < 0.5
        cand = np.where(base, rng.random(n_cases) < 0.9, rng.random(n_cases) < 0.3)
        stat = bootstrap_delta([float(x) for x in base], [float(x) for x in cand],
                               resample_counts(n_cases, 500, seed), 0.95)
        hits += stat["ci_low"] <= true_delta <= stat["ci_high"]
    coverage = hits / seeds
    assert 0.90 <= coverage <= 0.985, coverage   # measured 0.947


def test_interval_is_seeded_and_reproducible():
    base, cand = [1.0, 0.0, 1.0, 0.0, 1.0] * 10, [1.0, 1.0, 0.0, 0.0, 1.0] * 10
    one = bootstrap_delta(base, cand, resample_counts(50, 500, 3), 0.95)
    two = bootstrap_delta(base, cand, resample_counts(50, 500, 3), 0.95)
    assert one == two and one["ci_low"] < 0 < one["ci_high"]


def test_precision_like_metric_uses_each_models_own_applicable_cases():
    # refusal precision is defined on the cases a model refused: the null pattern differs per model
    base = [1.0, 1.0, None, None]
    cand = [None, 0.0, 1.0, None]
    stat = bootstrap_delta(base, cand, resample_counts(4, 500, 0), 0.95)
    assert stat["baseline"] == 1.0 and stat["candidate"] == 0.5 and stat["delta"] == -0.5
    assert stat["n_cases"] == 1  # only case 1 has a value on both sides
    assert (stat["n_baseline"], stat["n_candidate"]) == (2, 2)
    from logtune.gate.decide import _fmt

    assert "2 baseline / 2 candidate cases, 1 shared" in _fmt(stat, 0.95)   # never "1 cases" for a 2-vs-2 mean


def test_metric_null_for_a_model_everywhere_has_no_delta():
    stat = bootstrap_delta([1.0, 0.0], [None, None], resample_counts(2, 200, 0), 0.95)
    assert stat["delta"] is None and stat["ci_low"] is None


# ------------------------------------------------------------------------------------ the rules

@pytest.mark.parametrize("rule, stat, expected", [
    ("significant", {"delta": -0.05, "ci_low": -0.09, "ci_high": -0.02}, "regressed"),
    ("significant", {"delta": -0.02, "ci_low": -0.05, "ci_high": +0.01}, "noise"),
    ("significant", {"delta": +0.01, "ci_low": -0.02, "ci_high": +0.04}, "ok"),
    ("point", {"delta": -0.02, "ci_low": -0.05, "ci_high": +0.01}, "regressed"),
    ("non_inferior", {"delta": +0.01, "ci_low": -0.02, "ci_high": +0.04}, "regressed"),
    ("non_inferior", {"delta": +0.05, "ci_low": +0.01, "ci_high": +0.09}, "ok"),
    ("significant", {"delta": None, "ci_low": None, "ci_high": None}, "skipped"),
])
def test_judge_delta_for_a_higher_is_better_metric(rule, stat, expected):
    assert judge_delta(stat, +1, 0.0, rule) == expected


def test_judge_delta_flips_the_interval_for_a_lower_is_better_metric():
    up = {"delta": +0.05, "ci_low": +0.02, "ci_high": +0.09}   # more hallucinations, clearly
    assert judge_delta(up, -1, 0.0, "significant") == "regressed"
    assert judge_delta(up, -1, 0.1, "significant") == "ok"        # within tolerance


def test_many_broken_cases_reject_naming_metric_values_interval_and_tolerance():
    base = acc(*([1] * 10 + [0] * 90))
    cand = acc(*([0] * 10 + [0] * 90))   # ten cases broken, none fixed
    g = decide(rows_from(base, cand), params())
    assert g["decision"] == "reject" and g["metrics"]["accuracy"]["status"] == "regressed"
    (reason,) = g["reasons"]
    assert reason.startswith("accuracy: baseline 0.1000, candidate 0.0000, delta -0.1000 (95.0% CI -")
    assert "regresses beyond tolerance 0.0000" in reason
    assert g["flips"]["n_broken"] == 10 and g["flips"]["broken"][0] == "c000"


def test_one_broken_case_is_noise_under_significant_but_a_regression_under_point():
    base, cand = acc(*([1] + [0] * 99)), acc(*([0] * 100))
    g = decide(rows_from(base, cand), params())
    assert g["decision"] == "promote" and g["metrics"]["accuracy"]["status"] == "noise"
    assert g["warnings"] and "within noise" in g["warnings"][0]
    assert decide(rows_from(base, cand), params(rule="point"))["decision"] == "reject"


def test_identical_models_promote_with_a_zero_width_interval():
    base = acc(1, 0, 1, 1, 0)
    g = decide(rows_from(base, base), params(rule="non_inferior"))
    m = g["metrics"]["accuracy"]
    assert g["decision"] == "promote" and m["delta"] == 0 and m["ci_low"] == 0 and m["ci_high"] == 0


def test_more_hallucinated_ids_is_a_regression_because_lower_is_better():
    base = [{"accuracy": 1.0, "refusal_accuracy": 1.0, "hallucinated_id_rate": 0.0}] * 40
    cand = [{"accuracy": 1.0, "refusal_accuracy": 1.0, "hallucinated_id_rate": float(i < 8)} for i in range(40)]
    g = decide(rows_from(base, cand), params())
    assert g["decision"] == "reject" and g["reasons"][0].startswith("hallucinated_id_rate:")
    assert "lower is better" in g["reasons"][0]


def test_ungated_metrics_are_reported_not_judged():
    base = [{"accuracy": 1.0, "refusal_accuracy": 1.0, "hallucinated_id_rate": 0.0, "token_f1": 0.9}] * 20
    cand = [{"accuracy": 1.0, "refusal_accuracy": 1.0, "hallucinated_id_rate": 0.0, "token_f1": 0.1}] * 20
    g = decide(rows_from(base, cand), params())
    assert g["decision"] == "promote" and g["metrics"]["token_f1"]["status"] == "reported"
    assert g["metrics"]["token_f1"]["delta"] == pytest.approx(-0.8)


# ------------------------------------------------------------------------ fixture, tags, baselines

def fixture_rows():
    return json.loads(FIXTURE.read_text())


def test_fixture_flips_and_means_match_mean_scores():
    rows = fixture_rows()
    g = decide(rows, params(tolerances={"accuracy": 0.0, "refusal_precision": 0.0}))
    assert g["flips"] == {"fixed": ["g2"], "broken": ["g3"], "n_fixed": 1, "n_broken": 1, "n_same": 4}
    for model, side in (("base", "baseline"), ("preference", "candidate")):
        means = mean_scores(r for r in rows if r["model"] == model)
        for metric in ("accuracy", "refusal_accuracy", "refusal_precision"):
            assert g["metrics"][metric][side] == pytest.approx(means[metric])


def test_per_tag_deltas_are_gated_and_a_tag_without_cases_is_a_warning():
    g = decide(fixture_rows(), params(tags=["refusal", "answerable", "hard:ambiguity"], rule="point"))
    assert g["tags"]["refusal"]["n_cases"] == 2
    assert g["tags"]["refusal"]["metrics"]["refusal_accuracy"]["delta"] == pytest.approx(-0.5)
    assert any(r.startswith("tag refusal: refusal_accuracy:") for r in g["reasons"])
    assert g["tags"]["hard:ambiguity"] == {"n_cases": 0, "metrics": {}}
    assert any("hard:ambiguity" in w for w in g["warnings"])


def test_champion_baseline_falls_back_to_base_with_a_note():
    g = decide(fixture_rows(), params(baseline="champion"))
    assert g["baseline"] == "base" and g["baseline_requested"] == "champion"
    assert "'champion' was not scored" in g["notes"][0]


def test_champion_baseline_is_used_when_scored():
    rows = fixture_rows() + [dict(r, model="champion") for r in fixture_rows() if r["model"] == "preference"]
    g = decide(rows, params(baseline="champion"))
    assert g["baseline"] == "champion" and g["notes"] == [] and g["metrics"]["accuracy"]["delta"] == 0


def test_different_case_sets_are_rejected_as_not_comparable():
    rows = [r for r in fixture_rows() if not (r["model"] == "preference" and r["case_id"] == "g6")]
    g = decide(rows, params())
    assert g["decision"] == "reject" and "case sets differ" in g["reasons"][0]


def test_stale_eval_json_is_an_error():
    with pytest.raises(GateError, match="preference accuracy = 0.900000.*stale"):
        decide(fixture_rows(), params(), {"preference": {"accuracy": 0.9}, "base": {}})


def test_gated_metric_missing_from_every_scores_is_an_error_not_a_pass():
    rows = [dict(r, scores=None) for r in fixture_rows()]   # results from before the scores column
    with pytest.raises(GateError, match="in no result row's `scores`"):
        decide(rows, params())


@pytest.mark.parametrize("kw, message", [
    ({"tolerances": {"acuracy": 0.0}}, "unknown or ungated metric 'acuracy'"),
    ({"tolerances": {"reply_words": 0.0}}, "unknown or ungated metric 'reply_words'"),
    ({"tolerances": {"accuracy": -0.1}}, "tolerance must be a number >= 0"),
    ({"rule": "strict"}, "gate.rule: must be one of"),
    ({"candidate": "sft"}, "candidate 'sft' not in the results"),
    ({"baseline": "champion", "fallback_baseline": "tiny"}, "neither baseline 'champion' nor fallback 'tiny'"),
])
def test_bad_params_are_errors(kw, message):
    with pytest.raises(GateError, match=message):
        decide(fixture_rows(), params(**kw))


def test_flips_from_rows_keep_the_old_call_shape():
    rows = [{"model": "base", "case_id": "g1", "passed": True}, {"model": "preference", "case_id": "g1", "passed": False},
            {"model": "base", "case_id": "g2", "passed": False}, {"model": "preference", "case_id": "g2", "passed": True},
            {"model": "sft", "case_id": "g1", "passed": True}]
    assert flips(rows, "preference", "base") == {"fixed": ["g2"], "broken": ["g1"], "n_fixed": 1, "n_broken": 1, "n_same": 0}


def test_repo_params_gate_section_builds_and_names_known_metrics(repo_root):
    from logtune.gate.decide import check_params
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "gate", GateParams)
    check_params(p)
    assert p.candidate != p.baseline and "accuracy" in p.tolerances and p.rule == "significant"


# ----------------------------------------------------------------------------------- many judgements

def test_bonferroni_level_keeps_the_family_at_the_nominal_confidence():
    from logtune.gate.decide import comparison_level

    assert comparison_level(0.95, 9, "bonferroni") == pytest.approx(1 - 0.05 / 9)
    assert comparison_level(0.95, 9, "none") == 0.95
    assert comparison_level(0.95, 1, "bonferroni") == 0.95


def test_a_borderline_regression_rejects_alone_but_is_noise_among_nine_judgements():
    # 8 broken, 1 fixed of 100: significant at 95% on its own, not once nine judgements share the 5%
    base = acc(*([1] * 8 + [0] * 92))
    cand = acc(*([0] * 8 + [1] + [0] * 91))
    tags = {i: ["a", "b"] for i in range(100)}
    plain = decide(rows_from(base, cand, tags), params(tags=["a", "b"]))
    assert plain["decision"] == "reject"
    corrected = decide(rows_from(base, cand, tags), params(
        tags=["a", "b"], bootstrap=BootstrapParams(n_resamples=1000, confidence=0.95, seed=0)))
    assert corrected["comparisons"] == 9 and corrected["comparison_confidence"] == pytest.approx(1 - 0.05 / 9, abs=1e-6)
    assert corrected["metrics"]["accuracy"]["status"] == "noise" and corrected["decision"] == "promote"
    assert any("(99.4% CI" in w for w in corrected["warnings"])


def test_unknown_correction_is_an_error():
    with pytest.raises(GateError, match="gate.bootstrap.correction"):
        decide(rows_from(acc(1), acc(1)), params(bootstrap=BootstrapParams(correction="holm")))


def test_the_correction_counts_only_judgements_made_null_metrics_and_untagged_metrics_excluded():
    # tool_call_accuracy is null for every case (no tool case): skipped, so not a comparison;
    # only accuracy is judged per tag (tag_metrics)
    base = [{"accuracy": 1.0, "refusal_accuracy": 1.0, "tool_call_accuracy": None}] * 30
    tags = {i: ["a"] for i in range(10)}
    g = decide(rows_from(base, base, tags), params(
        tolerances={"accuracy": 0.0, "refusal_accuracy": 0.0, "tool_call_accuracy": 0.0}, tags=["a", "none"],
        tag_metrics=["accuracy"], bootstrap=BootstrapParams(n_resamples=1000, confidence=0.95, seed=0)))
    assert g["judgements"] == ["accuracy", "refusal_accuracy", "tag a: accuracy"]
    assert g["comparisons"] == 3 and g["comparison_confidence"] == pytest.approx(1 - 0.05 / 3, abs=1e-6)
    assert "tool_call_accuracy" in g["skipped"] and set(g["tags"]["a"]["metrics"]) == {"accuracy"}


def test_every_scored_metric_without_a_rule_is_listed_as_not_gated_with_its_reason():
    scores = {"accuracy": 1.0, "refusal_accuracy": 1.0, "hallucinated_id_rate": 0.0, "persona_score": 1.0,
              "reply_words": 12.0, "made_up": 1.0}
    g = decide(rows_from([scores] * 5, [scores] * 5), params())
    assert set(g["not_gated"]) == {"persona_score", "reply_words", "made_up"}
    assert "no tolerance" in g["not_gated"]["persona_score"] and "no direction" in g["not_gated"]["reply_words"]
    assert g["tolerances"] == TOL


def test_tag_metrics_must_be_gated():
    with pytest.raises(GateError, match="gate.tag_metrics: 'safety'"):
        decide(rows_from(acc(1), acc(1)), params(tag_metrics=["safety"]))


def test_too_few_resamples_for_the_corrected_level_is_a_warning_naming_the_fix():
    g = decide(rows_from(acc(1, 0), acc(1, 0)), params(
        tags=["x"], bootstrap=BootstrapParams(n_resamples=200, confidence=0.95, seed=0)))
    assert any("raise gate.bootstrap.n_resamples to at least" in w for w in g["warnings"])
