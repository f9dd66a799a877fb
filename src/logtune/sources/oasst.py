"""Source adapter for OpenAssistant (OASST1/OASST2) flat message rows (JSONL, gzip or plain).

Format, one message per line, trees linked by parent_id:
    {"message_id": "m1", "parent_id": null, "message_tree_id": "m1", "role": "prompter", "text": "Hi?",
     "created_date": "2023-02-07T17:29:24+00:00", "deleted": false, "synthetic": false, "review_result": true,
     "rank": null, "lang": "en",
     "emojis": {"name": ["+1", "-1"], "count": [9, 1]},
     "labels": {"name": ["quality", ...], "value": [0.33, ...], "count": [3, ...]}, ...}
    {"message_id": "m2", "parent_id": "m1", "message_tree_id": "m1", "role": "assistant", "text": "Hello!", "rank": 0, ...}

Mapping: the trees are rebuilt and each root-to-leaf path becomes one conversation, so input rows !=
conversations: a prompt with three ranked replies gives three conversations sharing the prompt, and a
row appears in every path through it. Accounting is per row instead: every row ends up in >= 1
conversation or is quarantined exactly once. Export's ledger counts items (conversations + quarantined
rows), not rows. Real sample oasst1_validation_en.jsonl: 2,022 rows in 191 trees -> 928 conversations
covering 1,688 rows, plus 334 quarantined rows (291 unanswered_prompt, 40 deleted, 3 orphan_reply).
- prompter -> user, assistant -> assistant; message id = message_id, created_at = created_date.
- every assistant message keeps its feedback: rating = sign(+1 count - -1 count) (None when equal or
  no votes); feedback_meta {"rank", "emojis": {name: count}, "labels": {name: value}, "review_result",
  "synthetic", "siblings": [{"id", "text", "rank"}, ...]}: the other live replies to the same prompt,
  with their ranks, so build can make preference pairs from sibling ranks.
- conversation: source_id = the leaf's message_id, created_at = the root's created_date, task_type
  option (default "chat"), provenance "synthetic" when any message on the path is marked synthetic, else "real".
Quarantined rows: invalid_utf8, broken_json, wrong_type, missing_field, duplicate_id (a message_id
seen before), deleted (a deleted message, and the rows below it: no path may run through a deleted
message; option keep_deleted keeps them), orphan_reply (its parent, or an ancestor's, is missing from
its tree), unanswered_prompt (a prompter row with no assistant reply anywhere below it: a path must
end on an assistant turn), non_contiguous_tree (contiguous_trees mode only: a row of a tree already closed).

Streaming: rows of a tree must be grouped. With option `contiguous_trees: true` (rows of a tree are
adjacent, as in the published dumps) one pass holds one tree at a time. Default (false): a first pass
keeps only an index (row counts per tree, ids), a second pass buffers each tree's rows until its last
row has arrived, so no text is held twice and contiguous input still holds one tree at a time.

Options: `contiguous_trees` (default false), `keep_deleted` (default false), `task_type` (default
"chat"), `provenance` (overrides the per-path value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit
from logtune.sources.items import check_fields, check_options, conversation, message, note, quarantine
from logtune.sources.jsonl import iter_json_lines
from logtune.sources.timestamps import to_iso

KIND = "oasst"
ROLES = {"prompter": "user", "assistant": "assistant"}
REQUIRED = {"message_id": str, "message_tree_id": str, "role": str, "text": str}
OPTIONAL = {"parent_id": str, "created_date": str, "deleted": bool, "synthetic": bool, "review_result": bool,
            "rank": (int, float), "emojis": (dict, list), "labels": (dict, list), "lang": str, "review_count": int,
            "model_name": str, "detoxify": dict}
# Row fields kept in the reply's feedback_meta beside rank/emojis/labels (lang, review_count, model_name,
# detoxify scores) or used for the tree (ids, tree_state: every exported tree is ready_for_export);
# anything else a row holds is counted in the export metrics as a dropped field. user_id is left out on
# purpose: it names a person, not the example.
KEPT = set(REQUIRED) | set(OPTIONAL) | {"tree_state", "replies"}
META_FIELDS = ("lang", "review_count", "model_name", "detoxify")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield conversations (one per root-to-leaf path) and quarantine items (one per unusable row)."""
    opts = check_options(source_name, options, {"contiguous_trees", "keep_deleted", "task_type", "provenance"})
    if opts.get("contiguous_trees", False):
        yield from _read_contiguous(path, opts, source_name)
    else:
        yield from _read_indexed(path, opts, source_name)


def _rows(path: str | Path) -> Iterator[tuple[Any, int, Any] | dict[str, Any]]:
    """(row key, line_no, row) per message row, or a quarantine item for a bad line.

    Flat message rows (one per line) and the tree export (one tree per line: `{"message_tree_id",
    "tree_state", "prompt": {message, "replies": [message, ...]}}`) are both read; a tree's messages are
    flattened with their parent ids (the key is (line, index in the tree))."""
    for item in iter_json_lines(path, KIND):
        if isinstance(item, dict):
            yield item
            continue
        line_no, obj = item
        if isinstance(obj, dict) and "message_id" not in obj and isinstance(obj.get("prompt"), dict):
            stack, k = [(obj["prompt"], None)], 0
            while stack:
                node, parent = stack.pop()
                row = {key: v for key, v in node.items() if key != "replies"} if isinstance(node, dict) else node
                if isinstance(row, dict):
                    row.setdefault("parent_id", parent)
                    row.setdefault("message_tree_id", obj.get("message_tree_id"))
                yield (line_no, k), line_no, row
                k += 1
                replies = node.get("replies") if isinstance(node, dict) else None
                stack.extend((r, node.get("message_id")) for r in reversed(replies or []))
        else:
            yield line_no, line_no, obj


def _checked_rows(path: str | Path, seen_ids: set[str] | None) -> Iterator[tuple[Any, int, dict[str, Any]] | dict[str, Any]]:
    """(key, line_no, row) for each well-formed row, or a quarantine item; duplicates checked when seen_ids is given."""
    for item in _rows(path):
        if isinstance(item, dict):
            yield item
            continue
        key, line_no, row = item
        where = f"line {line_no}"
        problem = check_fields(row, REQUIRED, OPTIONAL)
        if problem is None and row["role"] not in ROLES:
            problem = ("wrong_type", f"role '{row['role']}' is neither prompter nor assistant")
        if problem is None:
            try:
                to_iso(row.get("created_date"))
            except Unfit as e:
                problem = (e.reason, f"created_date: {e}")
        if problem:
            yield quarantine(*problem, where, row)
        elif seen_ids is not None and row["message_id"] in seen_ids:
            yield quarantine("duplicate_id", f"message_id {row['message_id']} occurred before", where, row)
        else:
            if seen_ids is not None:
                seen_ids.add(row["message_id"])
            yield key, line_no, row


def _read_indexed(path: str | Path, opts: dict[str, Any], source_name: str) -> Iterator[dict[str, Any]]:
    # Pass 1: quarantine bad rows and count each tree's good rows (no texts kept).
    good_lines: set[Any] = set()
    remaining: dict[str, int] = {}
    for item in _checked_rows(path, set()):
        if isinstance(item, dict):
            yield item
            continue
        key, line_no, row = item
        good_lines.add(key)
        remaining[row["message_tree_id"]] = remaining.get(row["message_tree_id"], 0) + 1
    # Pass 2: buffer rows per tree, emit a tree once its last row has been read.
    open_trees: dict[str, list[dict[str, Any]]] = {}
    for item in _checked_rows(path, None):
        if isinstance(item, dict) or item[0] not in good_lines:
            continue
        _, line_no, row = item
        tree_id = row["message_tree_id"]
        open_trees.setdefault(tree_id, []).append({**row, "_line": line_no})
        remaining[tree_id] -= 1
        if remaining[tree_id] == 0:
            yield from _tree_items(open_trees.pop(tree_id), opts, source_name)


def _read_contiguous(path: str | Path, opts: dict[str, Any], source_name: str) -> Iterator[dict[str, Any]]:
    closed: set[str] = set()
    tree_id, rows = None, []
    for item in _checked_rows(path, set()):
        if isinstance(item, dict):
            yield item
            continue
        _, line_no, row = item
        if row["message_tree_id"] != tree_id:
            if rows:
                yield from _tree_items(rows, opts, source_name)
                closed.add(tree_id)
            tree_id, rows = row["message_tree_id"], []
        if tree_id in closed:
            yield quarantine("non_contiguous_tree", f"tree {tree_id} continues after other trees "
                             "(contiguous_trees is set)", f"line {line_no}", row)
            continue
        rows.append({**row, "_line": line_no})
    if rows:
        yield from _tree_items(rows, opts, source_name)


def _tree_items(rows: list[dict[str, Any]], opts: dict[str, Any], source_name: str) -> Iterator[dict[str, Any]]:
    """Quarantine the unusable rows of one tree, then yield one conversation per root-to-leaf path."""
    dropped = [k for r in rows for k in r if k not in KEPT and k != "_line"]
    for item in _tree_paths(rows, opts, source_name):
        yield note(item, dropped) if dropped else item
        dropped = []   # each row's fields are counted once, on the tree's first item


def _tree_paths(rows: list[dict[str, Any]], opts: dict[str, Any], source_name: str) -> Iterator[dict[str, Any]]:
    keep_deleted = opts.get("keep_deleted", False)
    deleted = {r["message_id"] for r in rows if r.get("deleted") and not keep_deleted}
    live = {r["message_id"]: r for r in rows if r["message_id"] not in deleted}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for r in live.values():
        children.setdefault(r.get("parent_id"), []).append(r)
    reachable: set[str] = set()
    stack = [r for r in children.get(None, [])]
    while stack:
        node = stack.pop()
        reachable.add(node["message_id"])
        stack.extend(children.get(node["message_id"], []))

    fruitful: dict[str, bool] = {}  # has an assistant message at or below it: a path may end there

    def is_fruitful(node: dict[str, Any]) -> bool:
        stack, order = [node], []
        while stack:  # iterative post-order: deep trees must not hit the recursion limit
            n = stack.pop()
            order.append(n)
            stack.extend(children.get(n["message_id"], []))
        for n in reversed(order):
            fruitful[n["message_id"]] = n["role"] == "assistant" or any(
                fruitful[c["message_id"]] for c in children.get(n["message_id"], []))
        return fruitful[node["message_id"]]

    for root in children.get(None, []):
        is_fruitful(root)
    for r in rows:
        where = f"line {r['_line']} (message {r['message_id']})"
        record = {k: v for k, v in r.items() if k != "_line"}
        mid = r["message_id"]
        if mid in deleted:
            yield quarantine("deleted", "the message is marked deleted", where, record)
        elif mid not in reachable:
            yield quarantine(*_unreachable_reason(r, live, deleted), where, record)
        elif not fruitful[mid]:
            yield quarantine("unanswered_prompt", "no assistant reply below this prompt", where, record)

    for root in children.get(None, []):
        if not fruitful[root["message_id"]]:
            continue
        stack = [[root]]
        while stack:
            path = stack.pop()
            kids = [c for c in children.get(path[-1]["message_id"], []) if fruitful[c["message_id"]]]
            if not kids:
                yield _path_conversation(path, children, opts, source_name)
            # reversed so paths come out in file order of the children
            stack.extend(path + [kid] for kid in reversed(kids))


def _unreachable_reason(row: dict[str, Any], live: dict[str, dict[str, Any]], deleted: set[str]) -> tuple[str, str]:
    seen = {row["message_id"]}
    parent = row.get("parent_id")
    while parent is not None:
        if parent in deleted:
            return "deleted", f"ancestor {parent} is deleted"
        if parent not in live:
            return "orphan_reply", f"parent chain broken: message {parent} is not in tree {row['message_tree_id']}"
        if parent in seen:
            return "orphan_reply", f"parent chain loops at message {parent}"
        seen.add(parent)
        parent = live[parent].get("parent_id")
    return "orphan_reply", "not reachable from the tree's root"


def _path_conversation(path: list[dict[str, Any]], children: dict[str | None, list[dict[str, Any]]],
                       opts: dict[str, Any], source_name: str) -> dict[str, Any]:
    messages = []
    for node in path:
        role = ROLES[node["role"]]
        if role == "user":
            messages.append(message(role, node["text"], id=node["message_id"], created_at=node.get("created_date")))
            continue
        votes = _counts(node.get("emojis"), "count")
        balance = votes.get("+1", 0) - votes.get("-1", 0)
        siblings = [{"id": s["message_id"], "text": s["text"], "rank": s.get("rank")}
                    for s in children.get(node.get("parent_id"), [])
                    if s is not node and s["role"] == "assistant"]
        meta = {"rank": node.get("rank"), "emojis": votes, "labels": _counts(node.get("labels"), "value"),
                "review_result": node.get("review_result"), "synthetic": node.get("synthetic"), "siblings": siblings}
        meta.update({k: node[k] for k in META_FIELDS if node.get(k) is not None})
        if node.get("deleted"):
            meta["deleted"] = True
        messages.append(message(role, node["text"], id=node["message_id"], created_at=node.get("created_date"),
                                rating=(balance > 0) - (balance < 0) if balance else None, feedback_meta=meta))
    synthetic = any(node.get("synthetic") for node in path)
    return conversation(source_name, path[-1]["message_id"], messages, task_type=opts.get("task_type", "chat"),
                        created_at=path[0].get("created_date"),
                        provenance=opts.get("provenance") or ("synthetic" if synthetic else "real"))


def _counts(table: dict[str, Any] | list | None, field: str) -> dict[str, Any]:
    """Emoji counts or label values as {name: value}, from every form OASST ships them in:
    column-wise {"name": [...], field: [...]} (the flat message dumps), a list [{"name": "+1", "count": 3}, ...]
    (the tree export's emojis), {name: {"value": v, "count": n}} (its labels), or plain {name: value}."""
    if not table:
        return {}
    if isinstance(table, list):
        return {e["name"]: e.get(field) for e in table if isinstance(e, dict) and "name" in e}
    if isinstance(table.get("name"), list):
        return dict(zip(table.get("name") or [], table.get(field) or []))
    return {name: (v.get(field) if isinstance(v, dict) else v) for name, v in table.items()}
