"""Issue #18 (seed 004): edit histories become preference pairs: the later revision chosen, the earlier
rejected, the edit's author and time kept; from JSONL edits and from a document's git history."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from logtune.sources import SourceError, edit_history, get_adapter
from tests.unit.source_contract import assert_contract, notes, split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "edit_history" / "edits.jsonl"


def test_jsonl_edits_become_pairs_with_author_and_time(tmp_path):
    assert get_adapter("edit_history") is edit_history
    items = list(edit_history.read(FIXTURE, {"prompt": "Rewrite {document}."}, "docs"))
    assert notes(items) == {"reviewers": 1}
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("unchanged_revision", "line 3"), ("missing_field", "line 4"), ("duplicate_id", "line 5"), ("wrong_type", "line 6")]
    first, second = convs
    assert [(m["role"], m["content"]) for m in first["messages"]] == [
        ("user", "Summarise the project status."), ("assistant", "Status: PRJ-1042 ships on 2025-03-14.")]
    assert json.loads(first["messages"][1]["feedback_meta"]) == {
        "rejected": "Status: fine.", "edit": {"author": "Dana Ruiz", "time": "2025-03-01T09:00:00Z",
                                              "message": "add the ship date", "document": "status.md"}}
    assert (first["task_type"], first["created_at"], first["messages"][1]["rating"]) == (
        "revision", "2025-03-01T09:00:00Z", None)
    assert second["source_id"] == "edits.jsonl:2" and second["messages"][0]["content"] == "Rewrite notes.md."
    assert json.loads(second["messages"][1]["feedback_meta"])["edit"]["author"] == "omar"
    assert second["created_at"] == "2025-03-01T09:00:00Z"


def test_build_routes_an_edit_to_a_dpo_pair_later_over_earlier():
    from logtune.build import BuildParams, build

    convs, _ = split(list(edit_history.read(FIXTURE, {}, "docs")))
    built = build(convs, BuildParams(), [])
    assert sorted((p["rule"], p["chosen"][-1]["content"], p["rejected"][-1]["content"]) for p in built.preference) == [
        ("recorded_pair", "Meeting notes: agreed to move the review to Friday.", "Meeting notes TBD"),
        ("recorded_pair", "Status: PRJ-1042 ships on 2025-03-14.", "Status: fine.")]
    assert built.sft == [] and built.kto == []


def git(repo: Path, *args: str, author: str = "Dana Ruiz", when: str = "2025-03-01T09:00:00+00:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "dana@lab.invalid", "GIT_AUTHOR_DATE": when,
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "dana@lab.invalid", "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_git_history_of_one_document(tmp_path):
    repo = tmp_path / "wiki"
    repo.mkdir()
    git(repo, "init", "-q")
    doc = repo / "plan.md"
    revisions = [("v1\n", "Dana Ruiz", "start"), ("v2: due 2025-04-01\n", "Omar Sato", "add due date"),
                 (None, "Omar Sato", "remove plan"), ("v3\n", "Dana Ruiz", "restore"),
                 ("v3\n", "Dana Ruiz", "touch other file"), ("v4: shipped\n", "Dana Ruiz", "ship")]
    for i, (text, author, subject) in enumerate(revisions):
        when = f"2025-03-0{i + 1}T09:00:00+00:00"
        if text is None:
            git(repo, "rm", "-q", "plan.md", author=author, when=when)
        else:
            doc.write_text(text)
            (repo / "other.md").write_text(str(i))
            git(repo, "add", "-A", author=author, when=when)
        git(repo, "commit", "-q", "-m", subject, author=author, when=when)
    items = list(edit_history.read(repo, {"document": "plan.md"}, "wiki"))
    convs, bad = split(items)
    # 5 commits touched plan.md (the 5th changed only other.md): v1 starts, v2 is an edit, the removal is
    # quarantined, v3 starts over, v4 is an edit
    assert [q["reason"] for q in bad] == ["deleted_revision"]
    pairs = [(c["messages"][1]["content"], json.loads(c["messages"][1]["feedback_meta"])) for c in convs]
    assert [(after, meta["rejected"], meta["edit"]["author"], meta["edit"]["message"]) for after, meta in pairs] == [
        ("v2: due 2025-04-01\n", "v1\n", "Omar Sato <dana@lab.invalid>", "add due date"),
        ("v4: shipped\n", "v3\n", "Dana Ruiz <dana@lab.invalid>", "ship")]
    assert convs[0]["created_at"] == "2025-03-02T09:00:00+00:00" and convs[0]["source_id"].startswith("plan.md@")
    assert convs[0]["messages"][0]["content"] == "Write the current version of plan.md."
    with pytest.raises(SourceError, match="no commit that touched 'nope.md'"):
        list(edit_history.read(repo, {"document": "nope.md"}, "wiki"))
    with pytest.raises(SourceError, match="not a git repository|must be a git repository"):
        list(edit_history.read(tmp_path / "missing", {"document": "plan.md"}, "wiki"))
