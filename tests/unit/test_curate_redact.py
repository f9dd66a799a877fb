"""curate.redact: every text field of a conversation, one placeholder per value across all of them."""

import json

from logtune.curate.redact import redact_conversation
from logtune.pii import find_pii_in_json

CONTEXT = json.dumps({"owner": {"name": "Jane Doe", "email": "jane.doe@example.org"}, "id": "PRJ-1042",
                      "records": [{"order_id": "4111111111111111", "status": "shipped"}], "api_key": "k3y-Value-99"})


def test_placeholders_are_consistent_across_turns_notes_rewrites_and_the_context():
    conv = {"id": "c1", "context": CONTEXT, "messages": [
        {"role": "user", "content": "I'm jane.doe@example.org, key sk-ant-abcdefghijklmnopqrstu", "feedback_note": None, "rewrite": None},
        {"role": "assistant", "content": "Noted.", "feedback_note": "mail bob@example.com not jane.doe@example.org",
         "rewrite": "I will reply to jane.doe@example.org."}]}
    out, kinds = redact_conversation(conv)
    user, reply = out["messages"]
    assert user["content"] == "I'm <EMAIL_1>, key <API_KEY_1>"
    assert reply["feedback_note"] == "mail <EMAIL_2> not <EMAIL_1>"
    assert reply["rewrite"] == "I will reply to <EMAIL_1>."
    # CONTEXT: the e-mail goes (same placeholder as in the turns), the ids and the name stay: an
    # id-like key is never touched even when its value looks like a card number
    context = json.loads(out["context"])
    assert context["owner"] == {"name": "Jane Doe", "email": "<EMAIL_1>"}
    assert context["id"] == "PRJ-1042" and context["records"][0]["order_id"] == "4111111111111111"
    assert context["api_key"] == "<SECRET_1>"              # a secret's name is no id
    assert conv["messages"][0]["content"].startswith("I'm jane")   # the input is not mutated
    assert conv["context"] == CONTEXT
    assert kinds == {"EMAIL": 5, "API_KEY": 1, "SECRET": 1}


def test_tool_call_arguments_get_the_same_placeholder_as_the_user_turn():
    # OpenAI form: `arguments` is JSON inside a JSON string; it must stay parseable after redaction
    calls = json.dumps([{"id": "call_1", "type": "function", "function": {
        "name": "send_email", "arguments": json.dumps({"to": "john.doe@example.com", "body": "call +44 20 7946 0958"})}}])
    conv = {"id": "c2", "context": None, "messages": [
        {"role": "user", "content": "Mail john.doe@example.com please"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": json.dumps({"sent_to": "john.doe@example.com"})}]}
    out, kinds = redact_conversation(conv)
    user, call, result = out["messages"]
    assert user["content"] == "Mail <EMAIL_1> please"
    arguments = json.loads(json.loads(call["tool_calls"])[0]["function"]["arguments"])
    assert arguments == {"to": "<EMAIL_1>", "body": "call <PHONE_1>"}
    assert json.loads(call["tool_calls"])[0]["id"] == "call_1"
    assert json.loads(result["content"]) == {"sent_to": "<EMAIL_1>"}
    assert kinds == {"EMAIL": 3, "PHONE": 1}


def test_siblings_and_alternatives_in_feedback_meta_are_redacted():
    meta = {"rank": 0, "siblings": [{"id": "6f1c-2", "text": "Reach Ann on 020 7946 0958 or ann@lab.example.org", "rank": 1}],
            "alternatives": [{"id": "n3", "content": "password: Hunter2&x!"}]}
    conv = {"id": "c3", "messages": [
        {"role": "user", "content": "How do I contact Ann? ann@lab.example.org"},
        {"role": "assistant", "content": "Try her e-mail.", "feedback_meta": json.dumps(meta)}]}
    out, kinds = redact_conversation(conv)
    new_meta = json.loads(out["messages"][1]["feedback_meta"])
    assert new_meta["siblings"][0] == {"id": "6f1c-2", "text": "Reach Ann on <PHONE_1> or <EMAIL_1>", "rank": 1}
    assert new_meta["alternatives"][0]["content"] == "password: <SECRET_1>"
    assert new_meta["rank"] == 0
    assert not find_pii_in_json(out["messages"][1]["feedback_meta"])
    assert kinds == {"EMAIL": 2, "PHONE": 1, "SECRET": 1}


def test_system_prompt_and_error_are_redacted_and_a_clean_conversation_comes_back_as_itself():
    conv = {"id": "c4", "system_prompt": "Escalate to ops@corp.example.com", "error": "auth failed for 203.0.113.7",
            "messages": [{"role": "user", "content": "hello"}]}
    out, kinds = redact_conversation(conv)
    assert out["system_prompt"] == "Escalate to <EMAIL_1>" and out["error"] == "auth failed for <IP_ADDRESS_1>"
    clean = {"id": "c5", "context": json.dumps({"id": "PRJ-1"}), "messages": [{"role": "user", "content": "hello"}]}
    assert redact_conversation(clean) == (clean, {}) and redact_conversation(clean)[0] is clean


def test_a_value_under_a_secret_named_key_is_a_secret():
    calls = json.dumps([{"name": "create_user", "arguments": {"username": "JohnDoe", "password": "password123",
                                                               "db_password": "s3cr3t!x", "password_hint": ""}}])
    out, kinds = redact_conversation({"id": "c6", "messages": [{"role": "assistant", "content": "", "tool_calls": calls}]})
    arguments = json.loads(out["messages"][0]["tool_calls"])[0]["arguments"]
    assert arguments == {"username": "JohnDoe", "password": "<SECRET_1>", "db_password": "<SECRET_2>", "password_hint": ""}
    assert kinds == {"SECRET": 2}


def test_json_inside_json_is_read_unescaped_and_a_bare_number_content_is_still_text():
    # in `arguments` (JSON in a JSON string) a newline is the two characters "\n": read raw, the "n"
    # glued to the phone number would hide it (found by benchmarks/pii_bench.py's "via curate" column)
    text = "Regards,\nAnna\n+44 20 7946 0958\npassword = Tr0ub4dor&3"
    calls = json.dumps([{"function": {"name": "note", "arguments": json.dumps({"text": text})}}])
    conv = {"id": "c7", "messages": [{"role": "assistant", "content": "", "tool_calls": calls},
                                     {"role": "user", "content": "4111 1111 1111 1111"}]}
    out, kinds = redact_conversation(conv)
    arguments = json.loads(json.loads(out["messages"][0]["tool_calls"])[0]["function"]["arguments"])
    assert arguments == {"text": "Regards,\nAnna\n<PHONE_1>\npassword = <SECRET_1>"}
    assert out["messages"][1]["content"] == "<CARD_1>"
    assert kinds == {"PHONE": 1, "SECRET": 1, "CARD": 1}
