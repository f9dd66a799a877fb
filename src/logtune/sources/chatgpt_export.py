"""Source adapter for a ChatGPT account export: `conversations.json` (+ `message_feedback.json`).

Format: `conversations.json` is ONE JSON document, a list of conversations, so it is parsed whole
(the export is a single array). Each conversation is a tree of nodes:

    [{"id": "c1", "conversation_id": "c1", "title": "t", "create_time": 1695326273.9, "current_node": "n3",
      "default_model_slug": "gpt-4",
      "mapping": {"n0": {"message": null, "parent": null, "children": ["n1"]},
                  "n1": {"message": {"id": "n1", "author": {"role": "user"}, "create_time": 1695326274.0,
                                     "content": {"content_type": "text", "parts": ["Hi"]}, "recipient": "all",
                                     "metadata": {}}, "parent": "n0", "children": ["n2", "n3"]},
                  "n2": {... an assistant reply the user regenerated ...},
                  "n3": {... the assistant reply on the active branch ...}}}]

`message_feedback.json` (option `feedback_path`; default: that file beside the export, if present)
is a list of `{"id", "conversation_id", "rating": "thumbsUp"|"thumbsDown", "create_time",
"content": "{\\"text\\": ..., \\"tags\\": [...]}"}`; the rated message is `message_id` when the entry
has one, else its `id` (the export keys feedback by the message id).

Mapping: one conversation -> one Conversation, the ACTIVE branch only: from `current_node` up the
`parent` links to the root, reversed. source_id = `conversation_id` (else `id`); message ids = node
ids; times (epoch seconds) become ISO-8601 UTC; model_version = `default_model_slug`, else the last
model_slug a reply names. Per node on the branch:
- empty or hidden messages (`metadata.is_visually_hidden_from_conversation`, the empty system
  placeholder every export starts with) are skipped: the user never saw them, they hold no dialogue;
- a visible non-empty system message becomes the system_prompt (leading) or a system turn;
- user/assistant text (`parts`, string parts only: images are dropped) becomes a turn;
- an assistant message addressed to a tool (`recipient` not "all", e.g. code for "python") becomes a
  tool call `{"name": recipient, "arguments": code}` on the assistant turn; a `tool` author's
  output (execution_output etc.) becomes a tool turn; assistant reasoning content types
  (thoughts, reasoning_recap) are dropped: not the reply style to train;
- consecutive assistant parts (text, then a tool call) merge into one turn.
An assistant node's siblings that are assistant messages (the user pressed "regenerate") are kept
in the turn's feedback_meta as `{"alternatives": [{"id", "content", "rating"?, "feedback_note"?}]}`.
Feedback is joined by message id: rating thumbsUp -> +1, thumbsDown -> -1, the content's `text` ->
feedback_note, and feedback_meta `{"feedback": {"id", "create_time", "tags"}}`.

Counts: items = one per conversation (Conversation or quarantine) + one quarantine per feedback
entry that matches no exported message (`orphan_feedback`: its conversation is not in the export, or
the message is on an abandoned branch), has an unknown rating (`unknown_rating`), has no message id
(`missing_field`) or was superseded by a later rating of the same message (`duplicate_feedback`),
yielded last.
Quarantined per conversation: wrong_type, missing_field (no mapping / current_node), broken_tree
(current_node not in the mapping, a cycle), empty_conversation (no user or assistant turn).
A conversations or feedback file that is not a JSON list raises SourceError (a ValueError) naming it.

Options: `feedback_path`, `task_type` (default "chat"), `provenance` (default "real").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit, chat, items, json_document, jsonl, ratings, timestamps

KIND = "chatgpt_export"
OPTIONS = ("feedback_path", "task_type", "provenance")
FEEDBACK_FILE = "message_feedback.json"
# feedback entry fields that become columns (rating, note) or the join key; user_id is left out on purpose
FEEDBACK_COLUMNS = ("conversation_id", "message_id", "rating", "content", "user_id")
# conversation fields mapped, or left out as app state (archive flag, plugin/gizmo ids, voice, origin)
CONVERSATION_FIELDS = ("id", "conversation_id", "mapping", "current_node", "create_time", "update_time",
                       "default_model_slug", "is_archived", "plugin_ids", "gizmo_id", "voice", "conversation_origin",
                       "conversation_template_id", "safe_urls")
REASONING_TYPES = ("thoughts", "reasoning_recap")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One item per conversation in file order, then one quarantine per unjoined feedback entry."""
    opts = items.check_options(source_name, options, OPTIONS)
    feedback, unjoinable = load_feedback(_feedback_path(Path(path), opts))
    joined: set[str] = set()
    exported: set[str] = set()
    for item in json_document.load_json_records(path, KIND):
        if isinstance(item, dict):   # a damaged stretch of the file, quarantined with its byte offsets
            yield item
            continue
        i, record = item
        if isinstance(record, dict):
            exported.add(str(record.get("conversation_id") or record.get("id")))
        try:
            yield export_to_conversation(record, feedback, joined, opts, source_name)
        except Unfit as e:
            cid = (record.get("conversation_id") or record.get("id")) if isinstance(record, dict) else None
            yield items.quarantine(e.reason, str(e), f"conversation {i} (id {cid})", record)
    yield from unjoinable
    for message_id, entry in feedback.items():  # file order
        if message_id not in joined:
            conv = str(entry.get("conversation_id"))
            why = "the message is on no exported branch" if conv in exported else "the conversation is not exported"
            yield items.quarantine("orphan_feedback",
                                     f"feedback on message {message_id} of conversation {conv}: {why}",
                                     f"{FEEDBACK_FILE} message {message_id}", entry)


def _feedback_path(path: Path, opts: dict) -> Path | None:
    if opts.get("feedback_path"):
        return jsonl.require_path(opts["feedback_path"])
    sibling = path.parent / FEEDBACK_FILE
    return sibling if sibling.exists() else None


def load_feedback(path: Path | None) -> tuple[dict[str, dict], list[dict]]:
    """Feedback entries by rated message id, and quarantines for entries that cannot be joined."""
    if path is None:
        return {}, []
    by_message, bad = {}, []
    for item in json_document.load_json_records(path, "ChatGPT message_feedback"):
        if isinstance(item, dict):
            bad.append({**item, "location": f"{path.name} {item['location']}"})
            continue
        i, entry = item
        where = f"{path.name} entry {i}"
        if not isinstance(entry, dict) or not (entry.get("message_id") or entry.get("id")):
            bad.append(items.quarantine("missing_field", "feedback entry without a message id", where, entry))
            continue
        try:
            ratings.parse_rating(entry.get("rating"))
            if entry.get("rating") is None:
                raise Unfit("unknown_rating", "no rating")
            for key in ("create_time", "update_time"):
                timestamps.to_iso(entry.get(key))
        except Unfit as e:
            bad.append(items.quarantine(e.reason, f"{e}", where, entry))
        else:
            message_id = str(entry.get("message_id") or entry["id"])
            if message_id in by_message:  # rated twice: the later rating is the user's final word
                bad.append(items.quarantine("duplicate_feedback", f"message {message_id} rated again later",
                                              where, by_message.pop(message_id)))
            by_message[message_id] = entry
    return by_message, bad


def _feedback_fields(entry: dict) -> dict:
    """rating, feedback_note and feedback_meta for one feedback entry (content is a JSON string)."""
    content = entry.get("content")
    try:
        body = json.loads(content) if isinstance(content, str) else (content or {})
    except ValueError:
        body = {"text": content}  # a plain-text note is still the user's note
    body = body if isinstance(body, dict) else {}
    note = body.get("text") if isinstance(body.get("text"), str) and body.get("text") else None
    # Everything else the entry says (old: id, create_time; new: evaluation_name, update_time, ...) is
    # kept; only the rater's user id is left out on purpose (it names a person, not the example).
    meta = {k: v for k, v in entry.items() if k not in FEEDBACK_COLUMNS}
    meta["tags"] = body.get("tags") or []
    meta.update({f"content_{k}": v for k, v in body.items() if k not in ("text", "tags")})
    return {"rating": ratings.parse_rating(entry["rating"]), "feedback_note": note, "feedback": meta}


def _text(msg: dict, dropped: list[str] | None = None) -> str | None:
    """Visible text of a node's message, None when it has none to show; non-text parts go to `dropped`."""
    content = msg.get("content") or {}
    if not isinstance(content, dict):
        raise Unfit("wrong_type", f"message {msg.get('id')}: content is {type(content).__name__}, not an object")
    ctype = content.get("content_type")
    if ctype in REASONING_TYPES:
        return None
    if content.get("parts") is not None and not isinstance(content["parts"], list):
        raise Unfit("wrong_type", f"message {msg.get('id')}: parts is {type(content['parts']).__name__}, "
                            "not a list")
    if isinstance(content.get("parts"), list):
        text = "\n".join(p for p in content["parts"] if isinstance(p, str))
        if dropped is not None and any(not isinstance(p, str) for p in content["parts"]):
            dropped.append("content.parts (non-text)")   # images, audio: the models trained here are text-only
    elif isinstance(content.get("text"), str):
        text = content["text"]
    elif isinstance(content.get("result"), str):
        text = content["result"]
    else:
        return None
    return text


def _hidden(msg: dict) -> bool:
    return bool((msg.get("metadata") or {}).get("is_visually_hidden_from_conversation"))


def _active_branch(mapping: dict, current: str) -> list[str]:
    if current not in mapping:
        raise Unfit("broken_tree", f"current_node {current!r} is not in the mapping")
    path, seen, node = [], set(), current
    while node is not None:
        if node in seen or node not in mapping:
            raise Unfit("broken_tree", f"node {node!r} is missing or in a cycle")
        seen.add(node)
        path.append(node)
        node = (mapping[node] or {}).get("parent")
    return path[::-1]


def export_to_conversation(record: Any, feedback: dict[str, dict], joined: set[str], opts: dict,
                           source_name: str) -> dict:
    """One exported conversation (active branch) as a Conversation; raises Unfit."""
    if not isinstance(record, dict):
        raise Unfit("wrong_type", f"a conversation must be an object, got {type(record).__name__}")
    mapping, current = record.get("mapping"), record.get("current_node")
    if not isinstance(mapping, dict) or not current:
        raise Unfit("missing_field", "no `mapping` object or no `current_node`")
    if not all(isinstance(n, dict) for n in mapping.values()):
        raise Unfit("wrong_type", "every mapping node must be an object")
    branch = _active_branch(mapping, current)
    dropped: list[str] = items.unmapped(record, CONVERSATION_FIELDS)
    messages, model_slug, used = [], None, []
    for node_id in branch:
        node = mapping[node_id]
        msg = node.get("message")
        if not isinstance(msg, dict) or _hidden(msg):
            continue
        role = ((msg.get("author") or {}).get("role"))
        text = _text(msg, dropped)
        if role not in ("system", "user", "assistant", "tool") or text is None:
            continue
        recipient = msg.get("recipient") or "all"
        model_slug = (msg.get("metadata") or {}).get("model_slug") or model_slug
        tool_calls = None
        if role == "assistant" and recipient != "all":
            tool_calls = items.json_text([{"id": None, "type": "function",
                                             "function": {"name": recipient, "arguments": text}}])
            text = ""
        elif role == "tool":
            tool_calls = chat.tool_link_json(None, (msg.get("author") or {}).get("name"))
        elif not text.strip():
            continue  # the empty system placeholder, an empty part: nothing was said
        m = items.message(role, text, id=msg.get("id") or node_id, created_at=msg.get("create_time"),
                            tool_calls=tool_calls)
        meta = {}
        if role == "assistant":
            alts = _alternatives(mapping, node_id, feedback, used)
            if alts:
                meta["alternatives"] = alts
        if m["id"] in feedback:
            fields = _feedback_fields(feedback[m["id"]])
            if "user_id" in feedback[m["id"]]:
                dropped.append("feedback.user_id")
            m["rating"], m["feedback_note"] = fields["rating"], fields["feedback_note"]
            meta["feedback"] = fields["feedback"]
            used.append(m["id"])
        m["feedback_meta"] = items.json_text(meta) if meta else None
        messages.append(m)
    messages = chat.merge_same_role(messages, roles=("assistant",))
    if not any(m["role"] in ("user", "assistant") for m in messages):
        raise Unfit("empty_conversation", f"{len(branch)} nodes on the active branch, no visible dialogue")
    joined.update(used)
    return items.note(items.conversation(
        source_name, str(record.get("conversation_id") or record.get("id")), messages,
        created_at=record.get("create_time"), model_version=record.get("default_model_slug") or model_slug,
        task_type=opts.get("task_type", "chat"), provenance=opts.get("provenance", "real"), status="ok"), dropped)


def _alternatives(mapping: dict, node_id: str, feedback: dict[str, dict], used: list[str]) -> list[dict]:
    """Regenerated siblings of an assistant node: the other assistant children of its parent."""
    parent = mapping.get(mapping[node_id].get("parent") or "", {})
    alts = []
    for sib in parent.get("children") or []:
        msg = (mapping.get(sib) or {}).get("message")
        if sib == node_id or not isinstance(msg, dict) or (msg.get("author") or {}).get("role") != "assistant":
            continue
        alt = {"id": msg.get("id") or sib, "content": _text(msg)}
        if alt["id"] in feedback:
            fields = _feedback_fields(feedback[alt["id"]])
            alt.update(rating=fields["rating"], feedback_note=fields["feedback_note"])
            used.append(alt["id"])
        alts.append(alt)
    return alts
