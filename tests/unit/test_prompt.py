"""logtune.prompt: the one layout of system prompt + CONTEXT shared by training and evaluation."""

import pytest

from logtune.prompt import compact_context, render_system, with_system


def test_context_is_canonical_with_ids_first():
    logged = '{"records": [{"status": "on hold", "due": "2025-01-02", "id": "PRJ-1"}]}'
    assert compact_context(logged) == '{"records":[{"id":"PRJ-1","due":"2025-01-02","status":"on hold"}]}'
    assert compact_context({"records": [{"id": "PRJ-1", "status": "on hold", "due": "2025-01-02"}]}) == compact_context(logged)


def test_broken_context_is_an_error_not_silently_dropped():
    with pytest.raises(ValueError):
        compact_context("{not json")


def test_render_system_joins_prompt_and_context():
    assert render_system("Be brief.", {"a": 1}) == 'Be brief.\nCONTEXT: {"a":1}'
    assert render_system(None, None) is None
    assert render_system("Be brief.", None) == "Be brief."


def test_with_system_replaces_logged_system_turns():
    msgs = [{"role": "system", "content": "old"}, {"role": "user", "content": "hi", "id": "1"}]
    assert with_system(msgs, "new", None) == [{"role": "system", "content": "new"}, {"role": "user", "content": "hi"}]


def test_system_prompt_env_replaces_then_appends():
    from logtune.prompt import effective_system_prompt

    assert effective_system_prompt("P", {}) == "P"
    assert effective_system_prompt("P", {"LOGTUNE_SYSTEM_PROMPT": "Q"}) == "Q"
    assert effective_system_prompt("P", {"LOGTUNE_SYSTEM_PROMPT_EXTRA": "X"}) == "P\n\nX"
    assert effective_system_prompt(None, {"LOGTUNE_SYSTEM_PROMPT_EXTRA": "X"}) == "X"


def test_env_prefix_keeps_a_deployments_own_names():
    from logtune.prompt import effective_system_prompt, env_names, params_env_prefix

    env = {"ISPEC_ASSISTANT_SYSTEM_PROMPT": "Q", "ISPEC_ASSISTANT_SYSTEM_PROMPT_EXTRA": "X", "LOGTUNE_SYSTEM_PROMPT": "L"}
    assert effective_system_prompt("P", env, "ISPEC_ASSISTANT_") == "Q\n\nX"
    assert effective_system_prompt("P", env) == "L"                                  # the default prefix
    assert effective_system_prompt("P", {"LOGTUNE_SYSTEM_PROMPT": "L"}, "ISPEC_ASSISTANT_") == "P"
    assert env_names("ISPEC_ASSISTANT_") == ("ISPEC_ASSISTANT_SYSTEM_PROMPT", "ISPEC_ASSISTANT_SYSTEM_PROMPT_EXTRA")
    assert params_env_prefix({"assistant": {"env_prefix": "ISPEC_ASSISTANT_"}}) == "ISPEC_ASSISTANT_"
    assert params_env_prefix({}) == "LOGTUNE_"
    with pytest.raises(ValueError, match="no environment variable prefix"):
        env_names("1-BAD")
