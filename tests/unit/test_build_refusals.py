"""Issue #14: refusal variety grows with the number of refusals, so a SQuAD v2 source passes the
per-record-type uniqueness gate honestly (the gate's bound unchanged).

Fixture: tests/fixtures/build/squad_unanswerable.json (README beside it); the real SQuAD v2 file in
../shared/real/squad_v2 when present.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from logtune.build import BuildParams, build
from logtune.build.extractive import DEFAULT_OPENERS, check_templates, refusal_fields, refusal_text
from logtune.refusal import is_refusal
from logtune.sources import squad_v2
from logtune.validate.features import sft_features
from logtune.validate.gates import ValidateParams, record_type_checks

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "build" / "squad_unanswerable.json"
REAL = ROOT.parent / "shared" / "real" / "squad_v2" / "dev-v2.0.cs224n-split.json"
OLD_SIX = ("I couldn't find the answer to that in the provided context.",
           "Sorry, I can't find that in the context I was given.",
           "That isn't in the context, so I can't answer it from there.",
           "I don't see any information about that in the context.",
           "The provided context has no information about that.",
           "I'm unable to find that in the passage provided.")


def refusal_check(path: Path, params: BuildParams):
    convs = [c for c in squad_v2.read(path, {}, "squad") if not c.get("quarantine")]
    built = build(convs, params, [])
    refusals = [r for r in built.sft if r["rule"] == "unanswerable_refusal"]
    table = pd.DataFrame(sft_features(refusals, {}))
    v = ValidateParams()
    (check,) = [c for c in record_type_checks(table, v.min_uniqueness, v.min_type_records)
                if c.name == "uniqueness_refusal"]
    return refusals, check


def test_six_fixed_sentences_fail_the_gate_the_composed_refusals_pass():
    old = BuildParams(refusal_templates=OLD_SIX, refusal_openers=("",), refusal_closers=("",))
    _, before = refusal_check(FIXTURE, old)
    assert not before.passed and before.observed <= 0.25          # what issue #14 saw, in miniature
    refusals, after = refusal_check(FIXTURE, BuildParams())
    assert len(refusals) == 24 and after.passed and after.observed > 0.9
    assert all(is_refusal(r["messages"][-1]["content"]) for r in refusals)
    assert {r["record_type"] for r in refusals} == {"refusal"} and {r["provenance"] for r in refusals} == {"synthetic"}


def test_a_refusal_names_what_was_asked_and_is_reproducible():
    fields = refusal_fields("  Who gave their name to Normandy?", '{"title": "Steam_engine", "text": "..."}')
    assert fields == {"question": "Who gave their name to Normandy?", "title": "Steam engine"}
    params = BuildParams()
    texts = {refusal_text(params.refusal_templates, 0, "c", i, fields, params.refusal_openers,
                          params.refusal_closers) for i in range(40)}
    assert len(texts) > 20 and all(is_refusal(t) for t in texts)
    assert any("Who gave their name to Normandy?" in t for t in texts) and any("Steam engine" in t for t in texts)
    assert refusal_text(params.refusal_templates, 0, "c", 1, fields) == \
        refusal_text(params.refusal_templates, 0, "c", 1, fields)
    # without a title, cores naming {title} are never chosen
    no_title = refusal_fields("Why?", None)
    assert all("{title}" not in t and "passage about ." not in t
               for t in (refusal_text(params.refusal_templates, 0, "c", i, no_title) for i in range(40)))


def test_bad_parts_fail_when_params_load():
    with pytest.raises(ValueError, match="not a refusal"):
        BuildParams(refusal_templates=("Paris is the answer to {question}.",))
    with pytest.raises(ValueError, match="uses {topic}"):
        BuildParams(refusal_templates=("I couldn't find {topic}.",))
    with pytest.raises(ValueError, match="refusal_openers must list"):
        BuildParams(refusal_openers=())
    check_templates(("I couldn't find {question} in the text.",), DEFAULT_OPENERS)


@pytest.mark.skipif(not REAL.is_file(), reason=f"real SQuAD v2 file not found at {REAL} (../shared/real is absent)")
def test_the_real_squad_v2_file_passes_uniqueness_refusal():
    refusals, check = refusal_check(REAL, BuildParams())
    assert len(refusals) > 3000          # 3,168 unanswerable questions in the file
    assert check.passed, check.detail
    assert all(is_refusal(r["messages"][-1]["content"]) for r in refusals)
