"""The gate stage: promote exits 0; a regression exits non-zero after writing gate.json with its reasons."""

import json

from logtune.io import read_json, write_rows
from logtune.records import EVAL_RESULT


def metrics(accuracy, hallucinated_id_rate=0.0):
    return {"accuracy": accuracy, "hallucinated_id_rate": hallucinated_id_rate, "refusal_accuracy": 1.0,
            "n_cases": 2, "by_tag": {}}


def run(stage, tmp_path, eval_metrics, *extra):
    (tmp_path / "eval.json").write_text(json.dumps(eval_metrics))
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"gate": {"candidate": "dpo", "baseline": "base", "tolerances": {
        "accuracy": 0.0, "refusal_accuracy": 0.0, "hallucinated_id_rate": 0.0}}}))
    rc = stage("gate").main([str(tmp_path / "eval.json"), "--params", str(params),
                             "--metrics", str(tmp_path / "gate.json"), *extra])
    return rc, read_json(tmp_path / "gate.json")


def test_gate_promotes_a_candidate_that_does_not_regress(stage, tmp_path):
    rc, gate = run(stage, tmp_path, {"base": metrics(0.5), "dpo": metrics(1.0)})
    assert rc == 0 and gate["decision"] == "promote"
    assert gate["metrics"]["accuracy"] == {"baseline": 0.5, "candidate": 1.0, "delta": 0.5, "tolerance": 0.0, "ok": True}


def test_gate_rejects_a_regression_with_reasons_and_nonzero_exit(stage, tmp_path, capsys):
    rows = [{"case_id": c, "model": m, "passed": p} for c, m, p in
            [("g1", "base", True), ("g1", "dpo", False), ("g2", "base", False), ("g2", "dpo", False)]]
    write_rows(tmp_path / "results.parquet", rows, EVAL_RESULT)
    rc, gate = run(stage, tmp_path, {"base": metrics(0.5), "dpo": metrics(0.0, hallucinated_id_rate=0.5)},
                   "--results", str(tmp_path / "results.parquet"))
    assert rc != 0 and gate["decision"] == "reject"
    assert [r.split(":")[0] for r in gate["reasons"]] == ["accuracy", "hallucinated_id_rate"]
    assert gate["flips"]["broken"] == ["g1"]
    assert "accuracy: baseline 0.5000, candidate 0.0000" in capsys.readouterr().out
