"""The training chat templates, family by family, on tokenizers built here with each family's released template.

For every family: the released template is recognised; its training variant renders the prompt exactly
as the released one does (what the model is served with), renders prompt + reply as the released one
does (except the documented deviations), masks exactly the reply, and ends the masked span on the token
the family ends a turn with. Then the failure paths: an unknown template, a user template without
markers, a template whose span misses the end-of-turn token.
"""

import pytest

from logtune.chat_templates import (BY_NAME, FAMILIES, ChatTemplateError, has_markers, identify, last_trained_token,
                                    read_template, require_markers, resolve, stop_token_ids)
from tests.fixtures.chat_families import STAND_INS, tokenizer_for

SYSTEM = {"role": "system", "content": "You are the iSPEC support assistant.\nCONTEXT: {\"id\": \"PRJ-1042\"}"}
USER = {"role": "user", "content": "What is the status of PRJ-1042?"}
REPLY = {"role": "assistant", "content": "PRJ-1042 is in progress."}
FOLLOW = {"role": "user", "content": "Who owns it?"}
REPLY2 = {"role": "assistant", "content": "Ethan Ivanova owns it."}
# (prompt, reply): a single turn, a follow-up with history, and no system message
CASES = [([SYSTEM, USER], REPLY), ([SYSTEM, USER, REPLY, FOLLOW], REPLY2), ([USER], REPLY)]
# where the training variant deliberately renders prompt + reply differently from the released template
# (each variant's header says why): Mistral v3 drops the system message once a reply follows the last user
# turn; Gemma 2's template raises on a system message.
DEVIATES = {("mistral_v3", True), ("gemma2", True)}
KW = {"date_string": "26 Jul 2024"}  # Llama 3.2's template would otherwise write today's date


def render(tok, template, chat, gen=False):
    return tok.apply_chat_template(chat, chat_template=template, tokenize=False, add_generation_prompt=gen, **KW)


def test_every_family_has_a_stand_in_and_its_files():
    assert set(STAND_INS) == set(BY_NAME)
    for family in FAMILIES:
        assert has_markers(read_template(family.training)), family.training
        assert all(not has_markers(read_template(o)) for o in family.originals)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_released_template_is_recognised_and_its_training_variant_verified(name):
    tok = tokenizer_for(name)
    family = BY_NAME[name]
    assert identify(tok.chat_template) is family
    resolved = resolve(tok, family.model_types[0])
    assert resolved.family == name and resolved.template == read_template(family.training)


@pytest.mark.parametrize("name", sorted(BY_NAME))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_training_variant_renders_as_served_and_masks_exactly_the_reply(name, case):
    tok = tokenizer_for(name)
    family = BY_NAME[name]
    original, training = tok.chat_template, read_template(family.training)
    prompt, reply = CASES[case]
    with_system = prompt[0]["role"] == "system"
    served = None
    try:
        served = render(tok, original, prompt, gen=True)
    except Exception:
        assert (name, with_system) in DEVIATES   # only Gemma 2 refuses a system message
    trained_prompt = render(tok, training, prompt, gen=True)
    if served is not None:
        assert trained_prompt == served          # the model trains on the prompt it is served with
    full = render(tok, training, prompt + [reply])
    assert full.startswith(trained_prompt)       # prompt + reply extends the prompt (TRL's prompt/completion split)
    if (name, with_system) not in DEVIATES:
        assert full == render(tok, original, prompt + [reply])
    out = tok.apply_chat_template(prompt + [reply], chat_template=training, tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True, **KW)
    ids, mask = out["input_ids"], out["assistant_masks"]
    spans, start = [], None
    for i, bit in enumerate(list(mask) + [0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            spans.append((start, i))
            start = None
    assert len(spans) == sum(m["role"] == "assistant" for m in prompt + [reply])
    start, end = spans[-1]
    assert tok.decode(ids[start:end]).strip() == full[len(trained_prompt):].strip()   # exactly the reply
    assert reply["content"] in tok.decode(ids[start:end])
    stops = stop_token_ids(tok, family.end_of_turn, model_dir="")
    assert last_trained_token(tok, ids[start:end], [1] * (end - start)) in stops   # trained to stop


def test_end_of_turn_is_where_each_family_puts_it():
    ends = {f.name: STAND_INS[f.name].tokens["eos"] if f.end_of_turn is None else f.end_of_turn for f in FAMILIES}
    assert ends["gemma2"] == ends["gemma3"] == "<end_of_turn>" and ends["phi3"] == "<|end|>"
    assert ends["tulu3"] == "<|end_of_text|>" and ends["mistral_v3"] == "</s>" and ends["llama3_1"] == "<|eot_id|>"


def test_trl_cannot_patch_tulu3_which_is_why_logtune_ships_its_variant():
    from trl.chat_template_utils import get_training_chat_template

    tok = tokenizer_for("tulu3")
    with pytest.raises(ValueError, match="patching is not supported"):
        get_training_chat_template(tok)
    assert resolve(tok, "llama").family == "tulu3"


def test_an_unknown_template_stops_with_the_fix():
    tok = tokenizer_for("qwen2_5", chat_template=read_template("qwen2_5").replace("<|im_start|>system", "<|im_start|>sys"))
    with pytest.raises(ChatTemplateError) as e:
        resolve(tok, "qwen2")
    message = str(e.value)
    assert "base.chat_template: PATH" in message and "model_type 'qwen2'" in message
    assert "Qwen2.5 Instruct (qwen2_5_training.jinja)" in message


def test_a_user_template_without_markers_is_refused_and_one_with_markers_used(tmp_path):
    tok = tokenizer_for("tulu3")
    plain = tmp_path / "plain.jinja"
    plain.write_text(read_template("tulu3"))
    with pytest.raises(ChatTemplateError, match="no {% generation %} markers"):
        resolve(tok, "llama", plain)
    marked = tmp_path / "mine.jinja"
    marked.write_text(read_template("tulu3_training"))
    resolved = resolve(tok, "llama", marked)
    assert resolved.family == "custom" and f"base.chat_template: {marked}" == resolved.source


def test_a_span_that_misses_the_end_of_turn_token_is_refused(tmp_path):
    tok = tokenizer_for("qwen2")
    bad = read_template("qwen2_training").replace("{{- message['content'] + '<|im_end|>' + '\\n' }}\n        {%- endgeneration %}",
                                                   "{{- message['content'] }}\n        {%- endgeneration %}{{- '<|im_end|>\\n' }}")
    assert bad != read_template("qwen2_training")
    path = tmp_path / "bad.jinja"
    path.write_text(bad)
    with pytest.raises(ChatTemplateError, match="never learn to end its turn"):
        resolve(tok, "qwen2", path)


def test_a_model_folder_without_markers_is_stopped_before_training():
    tok = tokenizer_for("llama3_1")
    with pytest.raises(ChatTemplateError, match="sft on models/base: .*dvc repro base"):
        require_markers(tok, "sft on models/base")


TRL_COPIES = ["qwen2_5", "qwen2_5_training", "qwen3", "llama3", "llama3_training", "llama3_1", "llama3_2", "gemma",
              "gemma3", "gemma3_training", "phi3", "phi3_training", "phi3_5", "phi3_5_training"]


@pytest.mark.parametrize("stem", TRL_COPIES)
def test_templates_taken_from_trl_are_byte_identical_to_the_installed_trl(stem):
    from pathlib import Path

    import trl

    assert read_template(stem) == (Path(trl.__file__).parent / "chat_templates" / f"{stem}.jinja").read_text()
