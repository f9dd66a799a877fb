"""Every adapter kind that has a real public file in ../shared/real runs on it through export: the ledger
balances (read = exported + quarantined) and no field that carries feedback is dropped (issue #14)."""

from __future__ import annotations

import pytest

from logtune.sources.export import ExportParams, SourceParams, export_source

# (kind, path under ../shared/real, options). Kinds without a real file here (the SQL kinds, gateway
# and event logs, seed 004 records, corrections, BFCL, LLaMA-Factory DPO/KTO) are covered by fixtures.
REAL = [
    ("oasst", "oasst1/oasst1_validation_en.jsonl", {}),
    ("squad_v2", "squad_v2/dev-v2.0.cs224n-split.json", {}),
    ("hh_rlhf", "hh_rlhf/harmless-base-test.jsonl.gz", {}),
    ("sharegpt", "glaive_toolcall/glaive_toolcall_en_demo.json", {"provenance": "synthetic"}),
    ("sharegpt", "sharegpt/sample_data", {}),
    ("chatgpt_export", "chatgpt_export/conversations.json", {}),
    ("claude_export", "claude_export/artifacts.json", {}),
    ("claude_export", "claude_export/example.json", {}),
    ("dolly", "dolly/databricks-dolly-15k.sample.jsonl", {}),
]
# Fields an adapter leaves out on purpose, none of them feedback: who rated (user ids name a person),
# and the analysis columns a ShareGPT dump's author added to every turn.
NOT_FEEDBACK = {"user_id", "feedback.user_id", "conversations[].anthropomorphic_label", "conversations[].expressive_label"}


@pytest.mark.parametrize("kind, rel, options", REAL, ids=[f"{k}:{p}" for k, p, _ in REAL])
def test_real_file_exports_with_a_balanced_ledger(real_dir, tmp_path, kind, rel, options):
    path = real_dir / rel
    m = export_source(SourceParams(name="real", kind=kind, path=str(path), options=options), tmp_path, ExportParams())
    assert m["read"] == m["exported"] + m["quarantined"] and m["exported"] > 0
    dropped = set(m.get("dropped_fields", {}))
    feedbackish = {d for d in dropped - NOT_FEEDBACK
                   if any(w in d.lower() for w in ("rating", "feedback", "label", "emoji", "vote", "rank", "chosen",
                                                   "rejected", "score", "thumb"))}
    assert feedbackish == set()


def test_every_oasst_vote_reaches_a_rating(real_dir):
    # Issue #14: 0 of the emoji votes came out of one form. Independently of the adapter: every assistant
    # row whose +1/-1 counts differ must carry that sign as its rating on each path through it.
    import json
    from logtune.sources import oasst
    rows = [json.loads(line) for line in (real_dir / "oasst1" / "oasst1_validation_en.jsonl").open(encoding="utf-8")]
    votes = {}
    for r in rows:
        counts = dict(zip((r.get("emojis") or {}).get("name", []), (r.get("emojis") or {}).get("count", [])))
        balance = counts.get("+1", 0) - counts.get("-1", 0)
        if r["role"] == "assistant" and balance:
            votes[r["message_id"]] = 1 if balance > 0 else -1
    seen = {}
    for item in oasst.read(real_dir / "oasst1" / "oasst1_validation_en.jsonl", {}, "oasst"):
        for m in item.get("messages", []):
            if m["role"] == "assistant":
                seen[m["id"]] = m["rating"]
    exported_votes = {k: v for k, v in votes.items() if k in seen}
    assert len(exported_votes) > 300 and all(seen[k] == v for k, v in exported_votes.items())
