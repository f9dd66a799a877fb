"""Seed 003's per-task adapters: one LoRA adapter per task type, trained on that task's examples only.

Seed 003 separates the logged calls by task type (game, website, graphics, audio) into separate
datasets; `mix.per_task_type: true` writes them as `data/train/<task_type>/sft.parquet`. With
`sft.per_task: true`, the `sft_task` stage (a DVC `foreach` over params `sft_tasks`) trains one adapter
per listed task type from the base, with the same `sft` settings and the same code as the general
adapter (`stages/sft.py --task <type>`): each instance depends only on its own task's file, so new data
for one task re-trains only that task's adapter.

`select_task` is the only thing added to training: it keeps the rows of the task (a task type is
written as mix writes its folder name: null -> `unknown`) and counts the rest, so a row of another task
in a task's file is never trained on silently. No row of the task at all is an error naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from logtune.params import ParamsError

# a task type as a DVC foreach key and a folder name (mix.pipeline.task_dir writes the same spelling)
TASK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
UNKNOWN = "unknown"   # mix's folder for examples with no task type


def per_task_enabled(section: dict[str, Any] | None) -> bool:
    """`sft.per_task`: a bool (false by default); anything else is an error."""
    value = (section or {}).get("per_task", False)
    if not isinstance(value, bool):
        raise ParamsError(f"params section 'sft.per_task': expected true or false, got {value!r}")
    return value


def check_task(task: str, section: dict[str, Any] | None) -> None:
    """A per-task run is asked for (`--task`): sft.per_task must be on and the name a plain task type."""
    if not per_task_enabled(section):
        raise ParamsError(f"sft.per_task is false, but a per-task adapter for '{task}' was asked for: set "
                          f"sft.per_task: true (and mix.per_task_type: true) to train per-task adapters, or "
                          f"empty params `sft_tasks`")
    if not TASK_NAME.fullmatch(task):
        raise ParamsError(f"task type {task!r}: expected letters, digits, '_', '.' or '-' (it names a folder)")


def task_of(row: dict[str, Any]) -> str:
    return row.get("task_type") or UNKNOWN


def select_task(rows: Iterable[dict[str, Any]], task: str, where: str | Path = "examples"
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows of `task`, counts): {task, read, kept, other_task: {task type: n}}; read = kept + sum(other_task).

    ValueError naming `where` when no row belongs to the task (wrong file, or mix.per_task_type off).
    """
    kept: list[dict[str, Any]] = []
    other: dict[str, int] = {}
    read = 0
    for row in rows:
        read += 1
        if task_of(row) == task:
            kept.append(row)
        else:
            other[task_of(row)] = other.get(task_of(row), 0) + 1
    if not kept:
        found = ", ".join(f"{t} ({n})" for t, n in sorted(other.items())) or "no rows at all"
        raise ValueError(f"{where}: no SFT example of task type '{task}' to train its adapter on (found: {found}); "
                         f"list in `sft_tasks` only task types the data has")
    return kept, {"task": task, "read": read, "kept": len(kept), "other_task": dict(sorted(other.items()))}
