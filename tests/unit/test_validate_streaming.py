"""Issue 19: validate streams each set in record batches (features, schema, PII, near leaks, tokens per batch,
over `runtime.workers` processes) and gives the checks, report and Data Docs page of one pass over it all.

Input: the good fixture sets (tests/fixtures/validate, see its README) with three defects planted so
failing checks (and their offender lists) are compared too, each in a different batch of 2 records: a
reworded golden question under the golden case's CONTEXT (near leak, found per batch), an id repeated
(id_unique: a whole-table check on the feature table) and a phone number left in a reply (no_pii).
"""

import copy
import json
from pathlib import Path

import pytest

from logtune import records
from logtune.engine import RuntimeParams
from logtune.io import write_rows
from logtune.validate.docs import write_data_docs
from logtune.validate.gates import ValidateParams, metrics, report, validate_built

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"
CTX = {"records": [{"id": "PRJ-6763", "status": "in review", "owner": "Daniel Costa"}]}
GOLDEN = {"id": "g101", "context": CTX,
          "messages": [{"role": "user", "content": "Quick one: what is the current status of PRJ-6763"}],
          "expected": {"contains": ["in review"], "must_refuse": False, "allowed_ids": ["PRJ-6763"]}, "tags": []}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("built")
    sft = json.loads((FIXTURES / "sft_good.json").read_text())
    leak = copy.deepcopy(sft[2])
    leak["messages"] = [{"role": "system", "content": "You are the iSPEC support assistant.\nCONTEXT: " + json.dumps(CTX)},
                        {"role": "user", "content": "Quick one: what is the present status of PRJ-6763"},
                        {"role": "assistant", "content": "It is in review."}]
    sft[2] = leak
    sft[5] = {**sft[5], "id": sft[0]["id"]}
    sft[7]["messages"][-1]["content"] += " Call me at +1 415 555 0199."
    write_rows(folder / "sft.parquet", sft, records.SFT_EXAMPLE)
    write_rows(folder / "preference.parquet", json.loads((FIXTURES / "preference_good.json").read_text()),
               records.PREFERENCE_PAIR)
    write_rows(folder / "kto.parquet", json.loads((FIXTURES / "kto_good.json").read_text()), records.KTO_EXAMPLE)
    (folder / "golden.jsonl").write_text(json.dumps(GOLDEN) + "\n")
    return folder


def _run(built: Path, out: Path, runtime: RuntimeParams | None) -> tuple[dict, dict, bytes]:
    outcome = validate_built(built, built / "golden.jsonl", ROOT / "expectations", ROOT / "schemas", ValidateParams(),
                             runtime=runtime)
    page = write_data_docs([r for s in (outcome.golden, *outcome.sets) for r in s.gx_results], out)
    return metrics(outcome), report(outcome), page.read_bytes()


def test_validate_in_batches_over_workers_gives_what_one_pass_gives(built, tmp_path):
    whole = _run(built, tmp_path / "whole", None)
    batched = _run(built, tmp_path / "batched", RuntimeParams(workers=2, batch_rows=2))
    assert batched == whole
    failed = sorted(f"{name}/{check}" for name, s in whole[0]["sets"].items() for check, c in s["checks"].items()
                    if not c["passed"])
    assert failed == ["sft/id_unique", "sft/no_pii", "sft/not_in_golden"]   # the planted defects, each caught
