import json

from logtune.curate.redact import redact_conversation

CONTEXT = json.dumps({"owner": {"name": "Jane Doe", "email": "jane.doe@example.org"}, "id": "PRJ-1042"})


def test_placeholders_are_consistent_within_a_conversation_and_context_is_untouched():
    conv = {"id": "c1", "context": CONTEXT, "messages": [
        {"role": "user", "content": "I'm jane.doe@example.org, key sk-ant-abcdefghijklmnopqrstu", "feedback_note": None, "rewrite": None},
        {"role": "assistant", "content": "Noted.", "feedback_note": "mail bob@example.com not jane.doe@example.org",
         "rewrite": "I will reply to jane.doe@example.org."}]}
    out, kinds = redact_conversation(conv)
    user, reply = out["messages"]
    assert user["content"] == "I'm <EMAIL_1>, key <API_KEY_1>"
    assert reply["feedback_note"] == "mail <EMAIL_2> not <EMAIL_1>"
    assert reply["rewrite"] == "I will reply to <EMAIL_1>."
    assert out["context"] == CONTEXT                     # ground truth is never redacted
    assert conv["messages"][0]["content"].startswith("I'm jane")   # the input is not mutated
    assert kinds == {"EMAIL": 4, "API_KEY": 1}
