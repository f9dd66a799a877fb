import pytest

from logtune.normalize import context_is_valid, normalize_context, normalize_text


def test_normalize_text_ignores_case_width_and_spacing():
    assert normalize_text("  Status of\tＰＲＪ-1042?\n") == normalize_text("status of prj-1042?") == "status of prj-1042?"


def test_normalize_context_ignores_key_order_and_spacing():
    assert normalize_context('{"b": 1,\n "a": [1, 2]}') == normalize_context({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'


def test_absent_context_is_empty_and_broken_context_raises():
    assert normalize_context(None) == ""
    assert not context_is_valid("{oops")
    with pytest.raises(ValueError):
        normalize_context("{oops")
