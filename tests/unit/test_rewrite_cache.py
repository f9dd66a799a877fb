"""The response cache and prompt templates: keys, durability, batch bookkeeping, versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from logtune.llm.cache import ENV_DIR, ResponseCache, cache_key, store_dir
from logtune.rewrite.templates import TemplateError, load_template, template_version


def entry(key: str, text: str = "t") -> dict:
    return {"key": key, "text": text, "provider": "anthropic", "model": "m", "task": "refusal",
            "prompt_version": "v", "via": "sync", "input_tokens": 1, "output_tokens": 1, "stop_reason": None}


def test_key_changes_with_every_part_and_fits_a_batch_custom_id():
    base = ("anthropic", "claude-haiku-4-5", "v1", "sys", "user", {"max_tokens": 400})
    key = cache_key(*base)
    assert len(key) == 64 and key == cache_key(*base)
    for i, other in enumerate(("local", "claude-sonnet-4-5", "v2", "sys2", "user2", {"max_tokens": 401})):
        changed = list(base)
        changed[i] = other
        assert cache_key(*changed) != key


def test_put_survives_a_reload_one_file_per_key_and_no_temporary_left(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put(entry("ab12"))
    cache.put(entry("ab12", "again"))                 # one response per key: the first one paid for stays
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == ["responses/ab/ab12.json"]
    (tmp_path / "responses" / "cd").mkdir()
    (tmp_path / "responses" / "cd" / "cd34.json").write_text('{"key": "cd34", "text": "tor')   # not put()'s doing
    again = ResponseCache(tmp_path)
    assert set(again.entries) == {"ab12"} and again.get("ab12")["text"] == "t"


def test_the_old_single_file_layout_is_still_read_torn_line_and_all(tmp_path):
    with open(tmp_path / "responses.jsonl", "w") as f:
        f.write(json.dumps(entry("a")) + "\n" + '{"key": "b", "text": "tor')     # a crash mid-write
    assert set(ResponseCache(tmp_path).entries) == {"a"}


def test_two_stores_merge_by_copying_files(tmp_path):
    ResponseCache(tmp_path / "laptop").put(entry("aa01"))
    ResponseCache(tmp_path / "ci").put(entry("bb02"))
    shutil.copytree(tmp_path / "laptop", tmp_path / "ci", dirs_exist_ok=True)
    assert set(ResponseCache(tmp_path / "ci").entries) == {"aa01", "bb02"}


def test_store_dir_env_overrides_params_which_override_the_default(monkeypatch):
    monkeypatch.delenv(ENV_DIR, raising=False)
    assert store_dir(None) == Path(".cache/rewrite") and store_dir("/shared/rw") == Path("/shared/rw")
    monkeypatch.setenv(ENV_DIR, "/mnt/team/rewrite")
    assert store_dir("/shared/rw") == Path("/mnt/team/rewrite")


def test_open_batches_are_those_submitted_and_not_collected(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.batch_submitted("b1", ["k1"])
    cache.batch_submitted("b2", ["k2"])
    cache.batch_collected("b1", {"succeeded": 1})
    assert ResponseCache(tmp_path).open_batches() == ["b2"]


def test_template_version_is_the_hash_of_its_file(tmp_path):
    (tmp_path / "refusal.txt").write_text("Be polite.\n=== user ===\nQ: $question\n")
    t = load_template("refusal", tmp_path)
    assert t.version == template_version("Be polite.\n=== user ===\nQ: $question\n")
    assert t.render({"question": "Who?"}) == ("Be polite.", "Q: Who?")
    with pytest.raises(TemplateError, match="question"):
        t.render({})
    (tmp_path / "broken.txt").write_text("no separator")
    with pytest.raises(TemplateError, match="=== user ==="):
        load_template("broken", tmp_path)


@pytest.mark.parametrize("task", ["conversational", "refusal", "downvote", "persona", "corrections"])
def test_every_shipped_template_loads(task):
    assert len(load_template(task).version) == 12
