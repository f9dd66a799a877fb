"""Follow one training record back to the log row it started as (`logtune trace <record-id>`).

The chain, newest first: the mixed set row (data/train or data/heldout, ids may carry a `#n` copy
suffix) -> the built record (data/built, with its lineage columns) -> the curated conversation
(data/curated/conversations.parquet, with the messages the record came from) -> the exported row
(data/exported/<source>.parquet) -> the source's own location (its params.yaml entry and source id).
A link that is missing is said so (a record the mix dropped, a conversation curate rejected), never
skipped. Files are searched with Parquet filters, so tracing does not load whole sets.
Not a lineage store: it reads the artifacts the pipeline already writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from logtune.mix.pipeline import SETS
from logtune.params import ParamsError, read_params

COPY = re.compile(r"^(?P<base>.+)#(?P<copy>\d+)$")
MIXED_DIRS = ("data/train", "data/heldout")
BUILT_DIR = "data/built"
CURATED = "data/curated/conversations.parquet"
CURATED_REJECTED = "data/curated/rejected.parquet"
EXPORTED_DIR = "data/exported"
CONTENT_WIDTH = 100   # message text is cut here: the trace shows where a record came from, not all of it


class TraceNotFound(LookupError):
    """The id is in none of the pipeline's artifacts."""


def split_copy(record_id: str) -> tuple[str, int]:
    """`abc#3` -> ("abc", 3); an id without a copy suffix is copy 1."""
    m = COPY.match(record_id)
    return (m["base"], int(m["copy"])) if m else (record_id, 1)


def find(path: Path, column: str, value: str) -> list[dict[str, Any]]:
    """Rows of a Parquet file whose `column` equals `value` (none when the file or column is absent)."""
    if not path.exists() or column not in pq.read_schema(path).names:
        return []
    return pq.read_table(path, filters=[(column, "=", value)]).to_pylist()


def _short(text: Any) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= CONTENT_WIDTH else text[: CONTENT_WIDTH - 3] + "..."


def _fields(row: dict[str, Any], skip: tuple[str, ...] = (), nulls: bool = True) -> str:
    """The row's scalar and id-list columns as k=v; message lists are summarised by their length."""
    parts = []
    for key, value in row.items():
        if key in skip or (value is None and not nulls):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            parts.append(f"{key}=<{len(value)} messages>")
        elif isinstance(value, list):
            parts.append(f"{key}=[{', '.join(map(str, value))}]")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def mixed_links(root: Path, record_id: str, base: str) -> list[str]:
    lines = []
    for folder in MIXED_DIRS:
        for name in SETS:
            path = root / folder / f"{name}.parquet"
            if not path.exists():
                continue
            ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
            copies = sum(1 for i in ids if i is not None and split_copy(i)[0] == base)
            if record_id in ids or (record_id == base and copies):
                lines.append(f"mixed     {folder}/{name}.parquet  id={record_id}  "
                             f"({copies} row(s) of {base} in this set, oversampled copies included)")
    return lines


def dropped_links(root: Path, base: str) -> list[str]:
    return [f"mixed     not in a mixed set: dropped by mix ({row['reason']}, {row['detail']})"
            for row in find(root / MIXED_DIRS[0] / "dropped.parquet", "id", base)]


def built_links(root: Path, base: str) -> tuple[list[str], str | None, list[str]]:
    """Lines for the built record, its conversation id and the message ids it came from."""
    lines, conversation, message_ids = [], None, []
    for name in SETS:
        for row in find(root / BUILT_DIR / f"{name}.parquet", "id", base):
            lines.append(f"built     {BUILT_DIR}/{name}.parquet  {_fields(row)}")
            conversation = conversation or row.get("conversation_id")
            message_ids = message_ids or list(row.get("message_ids") or [])
    for row in find(root / BUILT_DIR / "rejected.parquet", "id", base):
        record = json.loads(row["record"] or "{}")
        lines.append(f"built     {BUILT_DIR}/rejected.parquet  id={base} rejected by {row['stage']}: "
                     f"{row['reason']} ({row['detail']})")
        conversation = conversation or record.get("conversation_id")
        message_ids = message_ids or list(record.get("message_ids") or [record.get("message_id")] * bool(
            record.get("message_id")))
    return lines, conversation, message_ids


def curated_links(root: Path, conversation: str, message_ids: list[str]) -> tuple[list[str], dict | None]:
    rows = find(root / CURATED, "id", conversation)
    if not rows:
        rejected = find(root / CURATED_REJECTED, "id", conversation)
        if rejected:
            r = rejected[0]
            return [f"curated   {CURATED_REJECTED}  id={conversation} rejected by {r['stage']}: "
                    f"{r['reason']} ({r['detail']})"], json.loads(r["record"] or "{}")
        return [f"curated   {CURATED}: no conversation {conversation}"], None
    conv = rows[0]
    lines = [f"curated   {CURATED}  " + _fields(conv, skip=("system_prompt", "context", "messages"), nulls=False)]
    wanted = set(message_ids)
    for message in conv.get("messages") or []:
        if not wanted or message.get("id") in wanted:
            rating = f" rating={message['rating']}" if message.get("rating") is not None else ""
            lines.append(f"            message {message.get('id')} {message.get('role')}{rating}: "
                         f"{_short(message.get('content'))}")
    return lines, conv


def exported_links(root: Path, conversation: str, source: str | None) -> tuple[list[str], dict | None]:
    folder = root / EXPORTED_DIR
    paths = [folder / f"{source}.parquet"] if source else sorted(folder.glob("*.parquet"))
    for path in paths:
        for row in find(path, "id", conversation):
            return [f"exported  {EXPORTED_DIR}/{path.name}  id={row['id']} source={row['source']} "
                    f"source_id={row['source_id']}"], row
    return [f"exported  {EXPORTED_DIR}: no row {conversation}"], None


def origin_link(root: Path, source: str, source_id: str) -> str:
    where = ""
    try:
        entry = (read_params(root / "params.yaml").get("sources") or {}).get(source)
    except ParamsError:
        entry = None
    if isinstance(entry, dict):
        where = f" (kind {entry.get('kind')}, path {entry.get('path')})"
    return f"origin    source '{source}'{where}: source_id {source_id}"


def trace(record_id: str, root: str | Path = ".") -> list[str]:
    """The chain of lines for one record id (a training record's, with or without `#n`, or a conversation's)."""
    root = Path(root)
    base, _ = split_copy(record_id)
    mixed = mixed_links(root, record_id, base)
    built, conversation, message_ids = built_links(root, base)
    if mixed or built:
        lines = (mixed or dropped_links(root, base) or ["mixed     in no mixed set (dropped, or mix not run)"])
        lines += built or [f"built     {BUILT_DIR}: no record {base}"]
        if not conversation:
            lines.append("curated   the record names no conversation (made from none: synthetic)")
            return [f"trace {record_id}"] + lines
    else:   # maybe a conversation id: trace it from curate down
        lines, conversation = [f"record    {record_id}: no training record; tracing it as a conversation id"], base
    curated, conv = curated_links(root, conversation, message_ids)
    exported, row = exported_links(root, conversation, (conv or {}).get("source"))
    if not (mixed or built) and conv is None and row is None:
        raise TraceNotFound(f"{record_id}: no such record or conversation id in {', '.join(MIXED_DIRS)}, "
                            f"{BUILT_DIR}, {CURATED} or {EXPORTED_DIR} under {root}")
    lines += curated + exported
    origin = row or conv
    if origin is not None and origin.get("source") is not None:
        lines.append(origin_link(root, origin["source"], origin["source_id"]))
    return [f"trace {record_id}"] + lines
