"""Reading a built folder (data/built) and writing a rewritten one with the same four files and schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logtune import records
from logtune.io import read_rows, write_rows
from logtune.rewrite.tasks import Inputs

FILES = {"sft": records.SFT_EXAMPLE, "preference": records.PREFERENCE_PAIR, "kto": records.KTO_EXAMPLE,
         "rejected": records.REJECTED}


def read_built(folder: str | Path) -> dict[str, list[dict[str, Any]]]:
    folder = Path(folder)
    return {name: read_rows(folder / f"{name}.parquet") if (folder / f"{name}.parquet").is_file() else []
            for name in FILES}


def write_sets(folder: str | Path, sets: dict[str, list[dict[str, Any]]]) -> None:
    for name, schema in FILES.items():
        write_rows(Path(folder) / f"{name}.parquet", sets[name], schema)


def inputs_of(built: dict[str, list[dict[str, Any]]], curated: str | Path | None) -> Inputs:
    from logtune.rewrite.notes import note_of
    from logtune.rewrite.pipeline import notes_and_patterns

    conversations = read_rows(curated) if curated else []
    notes, patterns = notes_and_patterns(conversations) if curated else ({}, {})
    documents = [c for c in conversations if note_of(c) is not None and c.get("messages")]
    return Inputs(built["sft"], built["preference"], built["kto"], notes, patterns, documents)
