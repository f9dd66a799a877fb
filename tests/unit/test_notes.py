"""Issue #18 (seed 004): plain notes become grounded exchanges. The `notes` source kind reads Markdown/text
notes (per file or per heading); the rewrite `notes` task turns each into question-answer SFT records,
checked for grounding (every id, date and number in the note), synthetic, with the note as lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.params import from_dict
from logtune.rewrite import rewrite
from logtune.llm.cache import ResponseCache
from logtune.rewrite.checks import Failed
from logtune.rewrite.notes import check_grounded, exchanges
from logtune.rewrite.params import RewriteParams
from logtune.llm.providers import OfflineProvider
from logtune.rewrite.tasks import Inputs
from logtune.sources import SourceError, get_adapter, notes

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "notes" / "vault"
PATTERNS = [r"\b[A-Z]{2,5}-\d{2,6}\b"]
OFF = {"enabled": False}


def params(**over) -> RewriteParams:
    base = {"min_real_share": 0.0, "conversational": OFF, "refusal": OFF, "downvote": OFF, "corrections": OFF}
    return from_dict(RewriteParams, {**base, **over}, "rewrite")


def test_per_file_and_per_heading(tmp_path):
    assert get_adapter("notes") is notes
    items = list(notes.read(FIXTURE, {}, "notes"))
    assert [(q["reason"], q["location"]) for q in items if q.get("quarantine")] == [
        ("invalid_utf8", "file team/latin1.md")]
    by_file = [c for c in items if not c.get("quarantine")]
    assert [c["source_id"] for c in by_file] == ["status.md", "team/standup.txt"]
    assert [m["role"] for m in by_file[0]["messages"]] == ["assistant"] and by_file[0]["task_type"] == "note"
    assert by_file[0]["messages"][0]["content"].startswith("Weekly status") and "384 wells" in by_file[0]["messages"][0]["content"]
    per = [c for c in notes.read(FIXTURE / "status.md", {"split": "heading"}, "notes")]
    assert [(c["source_id"], json.loads(c["context"])["note"]["title"]) for c in per] == [
        ("status.md#1", "status"), ("status.md#3", "Kinase screen"), ("status.md#11", "Liver lysate"),
        ("status.md#14", "Empty section")]
    assert "not a heading" in per[1]["messages"][0]["content"]       # the fenced line stayed in its section
    blank = tmp_path / "blank.md"
    blank.write_text("\n  \n")
    assert [i["reason"] for i in notes.read(blank, {}, "n")] == ["empty_note"]
    with pytest.raises(SourceError, match="split must be"):
        list(notes.read(FIXTURE, {"split": "paragraph"}, "n"))


def test_grounding_check_on_literal_answers():
    note = "PRJ-1042 moved to review on 2025-03-10. The screen covers 384 wells."
    check_grounded("PRJ-1042 is in review since 2025-03-10; 384 wells.", note, PATTERNS)
    for text, reason in (("PRJ-1043 is in review.", "invented_id"), ("It moved on 2025-03-11.", "ungrounded_date"),
                         ("It covers 96 wells.", "ungrounded_number"), ("It covers 38 wells.", "ungrounded_number")):
        with pytest.raises(Failed) as e:
            check_grounded(text, note, PATTERNS)
        assert e.value.reason == reason
    p = params()
    ok = json.dumps({"exchanges": [{"question": "When did PRJ-1042 move to review?",
                                    "answer": "PRJ-1042 moved to review on 2025-03-10."}]})
    assert exchanges(ok, note, p) == [("When did PRJ-1042 move to review?", "PRJ-1042 moved to review on 2025-03-10.")]
    for bad, reason in (("not json", "unparseable_output"), (json.dumps({"exchanges": []}), "empty_output"),
                        (json.dumps({"exchanges": [{"question": "q?", "answer": "a b c"}] * 4}), "too_many_exchanges"),
                        (json.dumps({"exchanges": [{"question": "q?", "answer": "a b c"}] * 2}), "duplicate_question")):
        with pytest.raises(Failed) as e:
            exchanges(bad, note, p)
        assert e.value.reason == reason


def test_offline_rewrite_turns_notes_into_synthetic_grounded_sft_records():
    convs = [c for c in notes.read(FIXTURE / "status.md", {"split": "heading"}, "notes")]
    out = rewrite({"sft": [], "preference": [], "kto": [], "rejected": []}, Inputs([], [], [], documents=convs),
                  params(), OfflineProvider(), ResponseCache(None))
    made = out.sets["sft"]
    task = out.metrics["tasks"]["notes"]
    # the heading with nothing under it gives no exchange: rejected, counted, never silently skipped
    assert (task["items"], task["kept"], task["rejected"]) == (4, 3, 1) and task["sft_records"] == len(made)
    assert task["rejected_by_reason"] == {"empty_output": 1}
    pairs = {(r["messages"][0]["content"], r["messages"][1]["content"]) for r in made}
    assert ("What do the Kinase screen notes say about PRJ-1042?",
            "PRJ-1042 moved to review on 2025-03-10.") in pairs
    assert ("What do the Liver lysate notes say about SMP-20931?",
            "SMP-20931 is queued behind 2 other batches.") in pairs
    by_conv = {c["id"]: c for c in convs}
    for r in made:
        assert (r["provenance"], r["record_type"], r["rule"], r["phase"]) == (
            "synthetic", "knowledge", "llm_note_exchange", "conversational")
        note = by_conv[r["conversation_id"]]
        assert r["message_ids"] == [str(note["messages"][0]["id"])]
        check_grounded(r["messages"][1]["content"], note["messages"][0]["content"], PATTERNS)
        assert json.loads(r["generated_by"])["task"] == "notes"
    assert len({r["id"] for r in made}) == len(made)


def test_anthropic_provider_through_the_real_client_keeps_grounded_and_rejects_invented(tmp_path):
    from tests.unit.test_rewrite_client import FakeAnthropic, provider

    def answer(body):
        note = body["messages"][0]["content"]
        assert body["system"].startswith("You turn a real planning or status note")
        if "Kinase screen" in note:
            return json.dumps({"exchanges": [{"question": "When does PRJ-1042 ship?",
                                              "answer": "Shipping is planned for 2025-03-14."}]})
        return json.dumps({"exchanges": [{"question": "How long is the SMP-20931 queue?",
                                          "answer": "SMP-20931 waits behind 5 other batches."}]})   # the note says 2

    convs = [c for c in notes.read(FIXTURE / "status.md", {"split": "heading"}, "notes")
             if json.loads(c["context"])["note"]["title"] in ("Kinase screen", "Liver lysate")]
    fake = FakeAnthropic(answer=answer)
    p = params(provider="anthropic", max_retries=0, concurrency=1)
    out = rewrite({"sft": [], "preference": [], "kto": [], "rejected": []}, Inputs([], [], [], documents=convs),
                  p, provider(fake, [], max_retries=0, concurrency=1), ResponseCache(tmp_path))
    assert [(r["messages"][0]["content"], r["messages"][1]["content"]) for r in out.sets["sft"]] == [
        ("When does PRJ-1042 ship?", "Shipping is planned for 2025-03-14.")]
    assert out.metrics["tasks"]["notes"]["rejected_by_reason"] == {"ungrounded_number": 1}
    assert json.loads(out.sets["sft"][0]["generated_by"])["provider"] == "anthropic"


def test_notes_pass_curate_build_skips_them_and_rewrite_finds_them_in_the_curated_file(tmp_path):
    from logtune import records
    from logtune.build import BuildParams, build
    from logtune.curate.pipeline import CurateParams, curate
    from logtune.io import write_rows
    from logtune.rewrite.io import inputs_of
    from logtune.rules import load_rules

    convs = list(notes.read(FIXTURE / "status.md", {"split": "heading"}, "notes"))
    root = Path(__file__).resolve().parents[2]
    curated = curate(convs, CurateParams(), [], load_rules(root / "rules" / "auto_rules.yaml"))
    assert len(curated.kept) == 4 and curated.rejected == []
    built = build(curated.kept, BuildParams(), [])
    assert built.sft == [] and [r["reason"] for r in built.rejected] == ["no_user_turn"] * 4
    path = tmp_path / "conversations.parquet"
    write_rows(path, curated.kept, records.CONVERSATION)
    inputs = inputs_of({"sft": [], "preference": [], "kto": []}, path)
    assert sorted(c["source_id"] for c in inputs.documents) == ["status.md#1", "status.md#11", "status.md#14",
                                                                  "status.md#3"]
