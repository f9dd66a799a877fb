"""Seed 003's per-task selection (logtune.train.per_task): a task's adapter trains on its rows only, the rest
counted; sft.per_task must be on, and a task with no row is an error naming the file."""

import pytest

from logtune.params import ParamsError
from logtune.train.config import parse_sft
from logtune.train.per_task import check_task, per_task_enabled, select_task

ROWS = [
    {"messages": "[]", "phase": None, "task_type": "graphics", "id": "g1"},
    {"messages": "[]", "phase": None, "task_type": "audio", "id": "a1"},
    {"messages": "[]", "phase": None, "task_type": "graphics", "id": "g2"},
    {"messages": "[]", "phase": None, "task_type": None, "id": "n1"},      # mix's `unknown` folder
    {"messages": "[]", "phase": None, "task_type": "game", "id": "x1"},
]


def test_select_task_keeps_its_rows_in_order_and_counts_the_others():
    kept, counts = select_task(ROWS, "graphics")
    assert [r["id"] for r in kept] == ["g1", "g2"]
    assert counts == {"task": "graphics", "read": 5, "kept": 2, "other_task": {"audio": 1, "game": 1, "unknown": 1}}


def test_a_row_with_no_task_type_is_the_unknown_task_as_mix_writes_it():
    kept, counts = select_task(ROWS, "unknown")
    assert [r["id"] for r in kept] == ["n1"] and counts["kept"] == 1


def test_a_task_with_no_row_is_an_error_naming_the_file_and_what_it_has():
    with pytest.raises(ValueError, match=r"data/train/website/sft.parquet: no SFT example of task type 'website'.*"
                                         r"audio \(1\), game \(1\), graphics \(2\), unknown \(1\)"):
        select_task(ROWS, "website", "data/train/website/sft.parquet")
    with pytest.raises(ValueError, match="no rows at all"):
        select_task([], "website")


def test_per_task_needs_sft_per_task_true_and_a_plain_name():
    assert per_task_enabled({}) is False and per_task_enabled({"per_task": True}) is True
    with pytest.raises(ParamsError, match="sft.per_task is false"):
        check_task("graphics", {"per_task": False})
    with pytest.raises(ParamsError, match="expected true or false"):
        check_task("graphics", {"per_task": "yes"})
    with pytest.raises(ParamsError, match="names a folder"):
        check_task("../game", {"per_task": True})
    check_task("graphics", {"per_task": True})


def test_sft_per_task_is_a_known_key_of_the_sft_section(tmp_path):
    parse_sft({"per_task": True, "max_steps": 1}, tmp_path)   # an unknown key would raise ParamsError
