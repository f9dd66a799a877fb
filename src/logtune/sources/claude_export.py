"""Source adapter for a Claude.ai account export (`conversations.json`).

Format: ONE JSON document, a list of conversations, so it is parsed whole (the export is a single
array; there is no record boundary to stream on):

    [{"uuid": "c1", "name": "Title", "created_at": "2024-10-18T05:30:10Z", "chat_messages": [
       {"uuid": "m1", "sender": "human", "text": "Hi", "created_at": "2024-10-18T05:30:20Z",
        "attachments": [{"file_name": "notes.txt", "extracted_content": "..."}], "files": [...]},
       {"uuid": "m2", "sender": "assistant", "text": "Hello", "created_at": "2024-10-18T05:30:20Z",
        "content": [{"type": "thinking", "thinking": "..."}, {"type": "text", "text": "Hello"},
                    {"type": "tool_use", "id": "t1", "name": "web_search", "input": {"q": "x"}},
                    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "..."}]}]}]}]

Mapping: one conversation -> one Conversation; source_id = its `uuid`, message ids = message uuids,
created_at as exported. Messages are put in time order (`created_at`, a human turn before the
assistant turn stamped the same instant; stable otherwise): exports list them out of order (the real
sample does), and a reply must follow its question. `sender` human -> user, assistant -> assistant.
When a message has `content` blocks they are used instead of `text` (which repeats them): text
blocks are kept, thinking blocks dropped unless option `keep_thinking` (then kept as
`<thinking>...</thinking>` before the text), tool_use -> the turn's canonical tool_calls, tool_result
-> a separate tool turn (so an assistant message can become assistant, tool, assistant turns).
Attachments' extracted text was shown to the model, so it is appended to the human turn
(`[attachment: name]` + text); uploaded files and images carry no text here and are dropped, as is
the conversation title (no column). Consecutive same-role turns are then merged.

Quarantined per conversation: wrong_type, missing_field (no uuid / chat_messages / sender),
unknown_role, broken_tool_call, empty_conversation (no message with text).
A file that is not a JSON list raises SourceError (a ValueError) naming it.

Options: `task_type` (default "chat"), `provenance` (default "real"), `keep_thinking` (default false:
hidden reasoning is not the reply style to train), `keep_attachments` (default true).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit, chat, items, json_document

KIND = "claude_export"
OPTIONS = ("task_type", "provenance", "keep_thinking", "keep_attachments")
ROLES = {"human": "user", "assistant": "assistant"}
MESSAGE_FIELDS = ("uuid", "sender", "text", "content", "created_at", "updated_at", "attachments")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per exported conversation, in file order."""
    opts = items.check_options(source_name, options, OPTIONS)
    for item in json_document.load_json_records(path, KIND):
        if isinstance(item, dict):   # a damaged stretch of the file, quarantined with its byte offsets
            yield item
            continue
        i, record = item
        try:
            yield export_to_conversation(record, opts, source_name)
        except Unfit as e:
            uuid = record.get("uuid") if isinstance(record, dict) else None
            yield items.quarantine(e.reason, str(e), f"conversation {i} (id {uuid})", record)


def _blocks_to_turns(msg_id: str, role: str, blocks: list, created_at: Any, keep_thinking: bool) -> list[dict]:
    turns, texts, calls = [], [], []

    def flush() -> None:
        if texts or calls:
            turns.append(items.message(role, "\n\n".join(texts), id=msg_id if not turns else f"{msg_id}#{len(turns)}",
                                         created_at=created_at, tool_calls=chat.tool_calls_json(calls)))
        texts.clear()
        calls.clear()

    try:
        for block in blocks:
            if not isinstance(block, dict):
                raise Unfit("wrong_type", f"message {msg_id}: a content block is not an object")
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "thinking" and keep_thinking and isinstance(block.get("thinking"), str):
                texts.append(f"<thinking>{block['thinking']}</thinking>")
            elif kind == "tool_use":
                calls.append(block)
            elif kind == "tool_result":
                flush()
                result = chat.text_of(block.get("content"))
                link = chat.tool_link_json(block.get("tool_use_id"), block.get("name"))
                turns.append(items.message("tool", result or "", id=f"{msg_id}#{len(turns)}", created_at=created_at,
                                             tool_calls=link))
        flush()
    except Unfit:
        raise
    except ValueError as e:  # a tool_use block without a name
        raise Unfit("broken_tool_call", f"message {msg_id}: {e}") from None
    return turns


def _attachments(message: dict) -> list[str]:
    """The text of a message's attachments, as the model saw it."""
    out = []
    for a in message.get("attachments") or []:
        if isinstance(a, dict) and isinstance(a.get("extracted_content"), str) and a["extracted_content"]:
            out.append(f"[attachment: {a.get('file_name')}]\n{a['extracted_content']}")
    return out


def export_to_conversation(record: Any, opts: dict, source_name: str) -> dict:
    """One exported conversation as a Conversation; raises Unfit with the quarantine reason."""
    if not isinstance(record, dict):
        raise Unfit("wrong_type", f"a conversation must be an object, got {type(record).__name__}")
    if not record.get("uuid") or "chat_messages" not in record:
        raise Unfit("missing_field", "no `uuid` or no `chat_messages`")
    raw = record["chat_messages"]
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise Unfit("wrong_type", "`chat_messages` must be a list of objects")
    # Stable sort: same-instant turns keep human before assistant, others keep file order.
    ordered = sorted(raw, key=lambda m: (str(m.get("created_at") or ""), m.get("sender") != "human"))
    messages = []
    for m in ordered:
        msg_id = str(m.get("uuid"))
        try:
            role = chat.map_role(m.get("sender"), ROLES)
        except items.UnknownRole as e:
            raise Unfit("unknown_role", f"message {msg_id}: {e}") from None
        attached = _attachments(m) if opts.get("keep_attachments", True) else []
        if isinstance(m.get("content"), list) and m["content"]:
            blocks = m["content"] + [{"type": "text", "text": a} for a in attached]
            messages += _blocks_to_turns(msg_id, role, blocks, m.get("created_at"),
                                         bool(opts.get("keep_thinking", False)))
            continue
        text = m.get("text")
        if not isinstance(text, str):
            raise Unfit("wrong_type", f"message {msg_id}: text is {type(text).__name__}, not a string")
        text = "\n\n".join([text] + attached) if text else "\n\n".join(attached)
        messages.append(items.message(role, text, id=msg_id, created_at=m.get("created_at")))
    messages = chat.merge_same_role(messages)
    if not any(m["content"].strip() or m["tool_calls"] for m in messages):
        raise Unfit("empty_conversation", f"{len(raw)} messages, none with text")
    dropped = items.unmapped(record, ("uuid", "chat_messages", "created_at", "updated_at", "account"))
    for m in raw:   # the account id names a person and update times add nothing: left out on purpose
        dropped += items.unmapped(m, MESSAGE_FIELDS, "chat_messages[].")
        if not opts.get("keep_thinking", False):
            dropped += ["content[].thinking" for b in m.get("content") or []
                        if isinstance(b, dict) and b.get("type") == "thinking"]
    return items.note(items.conversation(source_name, record["uuid"], messages, created_at=record.get("created_at"),
                                task_type=opts.get("task_type", "chat"), provenance=opts.get("provenance", "real"),
                                status="ok"), dropped)
