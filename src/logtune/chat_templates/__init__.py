"""The training chat template: a Hub model's own template with `{% generation %}` markers, for every stage.

Assistant-only loss needs the chat template to mark what the assistant generates (`{% generation %}` ...
`{% endgeneration %}`); Hub templates do not, so without this every record has 0 trained tokens. The
`base` stage resolves the training template once (`resolve`) and saves it in models/base's tokenizer;
validate (loss mask, EOS), preview, sft, preference and evaluate all read that same tokenizer, and
each checks it with `require_markers`, so no stage can silently use another layout.

How the template is resolved, in order:
  1. `base.chat_template: PATH`: the user's own training template (it must have the markers);
  2. the tokenizer's template already has markers: used as it is;
  3. it is byte-for-byte one of the released templates in this folder (`FAMILIES`: Qwen2/2.5/3,
     Llama 3/3.1/3.2, Tulu 3, OLMo 2, Mistral v3, Gemma/Gemma 2, Gemma 3, Phi-3/3.5, Phi-4): that
     family's training variant, stored here beside the original (README.md says where each came from);
  4. TRL's own `get_training_chat_template`, for the families TRL knows and this folder does not;
  5. otherwise a ChatTemplateError naming the model type and the fix (`base.chat_template: PATH`).
Each resolved template is then probed (`verify`): a reply must be masked, and the last masked token
(ignoring whitespace) must be a token generation stops at (`stop_token_ids`), i.e. the model is
trained to stop where the family ends a turn (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, `<|end|>`,
or the tokenizer's EOS).

A training variant renders exactly the text of its original, except where the original itself would
make training and inference disagree; each such change is named in the variant's header comment
(Mistral's system message, Gemma 2's missing system role, Llama 3.2's date). Ground floor: imports
nothing from logtune. Not for building tokenizers (`logtune.base.tokenizer`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")


class ChatTemplateError(ValueError):
    """A chat template that cannot train with assistant-only loss; the message names the fix."""


@dataclass(frozen=True)
class Family:
    """A model family's released chat template(s) and the training variant logtune uses for them."""
    name: str
    title: str
    model_types: tuple[str, ...]   # config.json model_type values it ships with
    originals: tuple[str, ...]     # file stems in this folder: the released templates, byte for byte
    training: str                  # file stem of the training variant
    end_of_turn: str | None        # the token that ends an assistant turn (None: the tokenizer's eos_token)


FAMILIES: tuple[Family, ...] = (
    Family("qwen2", "Qwen2 / Qwen1.5 Instruct", ("qwen2",), ("qwen2",), "qwen2_training", "<|im_end|>"),
    Family("qwen2_5", "Qwen2.5 Instruct", ("qwen2",), ("qwen2_5",), "qwen2_5_training", "<|im_end|>"),
    Family("qwen3", "Qwen3", ("qwen3", "qwen3_moe"), ("qwen3",), "qwen3_training", "<|im_end|>"),
    Family("llama3", "Llama 3 Instruct", ("llama",), ("llama3",), "llama3_training", "<|eot_id|>"),
    Family("llama3_1", "Llama 3.1 Instruct", ("llama",), ("llama3_1",), "llama3_1_training", "<|eot_id|>"),
    Family("llama3_2", "Llama 3.2 Instruct", ("llama",), ("llama3_2",), "llama3_2_training", "<|eot_id|>"),
    Family("tulu3", "Tulu 3 (Llama-3.1-Tulu-3)", ("llama",), ("tulu3",), "tulu3_training", None),
    Family("olmo2", "OLMo 2 Instruct", ("olmo2",), ("olmo2",), "olmo2_training", None),
    Family("mistral_v3", "Mistral v3 (Instruct v0.3, Large 2407)", ("mistral",), ("mistral_v3",),
           "mistral_v3_training", None),
    Family("gemma2", "Gemma / Gemma 2", ("gemma", "gemma2"), ("gemma",), "gemma2_training", "<end_of_turn>"),
    Family("gemma3", "Gemma 3", ("gemma3", "gemma3_text"), ("gemma3",), "gemma3_training", "<end_of_turn>"),
    Family("phi3", "Phi-3", ("phi3",), ("phi3",), "phi3_training", "<|end|>"),
    Family("phi3_5", "Phi-3.5", ("phi3",), ("phi3_5",), "phi3_5_training", "<|end|>"),
    Family("phi4", "Phi-4", ("phi3",), ("phi4",), "phi4_training", "<|im_end|>"),
)
BY_NAME = {f.name: f for f in FAMILIES}


@dataclass(frozen=True)
class TrainingTemplate:
    """The resolved template: its text, which family it is (or `own` / `custom` / `trl`), and why."""
    template: str
    family: str
    source: str
    end_of_turn: str | None = None


def template_version(template: str | None) -> str | None:
    """A short content hash of a template: what metrics and model cards record as its version."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:12] if template is not None else None


def read_template(stem: str) -> str:
    return (HERE / f"{stem}.jinja").read_text(encoding="utf-8")


def has_markers(template: str | None) -> bool:
    return bool(template) and _MARKER.search(template) is not None


def _template_text(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    return template.get("default") if isinstance(template, dict) else template


def identify(template: str | None) -> Family | None:
    """The family whose released template is exactly `template` (surrounding whitespace aside), or None."""
    if not template:
        return None
    text = template.strip()
    for family in FAMILIES:
        if any(read_template(stem).strip() == text for stem in family.originals):
            return family
    return None


def model_type_of(model_dir: str | Path | None) -> str | None:
    """config.json's `model_type` of a model folder, or None."""
    config = Path(model_dir) / "config.json" if model_dir is not None else None
    if config is None or not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("model_type")


def _fix(model_type: str | None) -> str:
    known = [f"{f.title} ({f.training}.jinja)" for f in FAMILIES if model_type in f.model_types]
    hint = (f" Templates logtune has for model_type '{model_type}': {', '.join(known)}; start from the one "
            f"that matches and compare it with your model's template." if known else "")
    return ("Fix: write a copy of the model's chat template with {% generation %} ... {% endgeneration %} around "
            "what the assistant generates (its reply and the token that ends its turn) and set "
            f"`base.chat_template: PATH` in params.yaml (examples: {HERE}/*_training.jinja).{hint}")


def resolve(tokenizer: Any, model_type: str | None = None, override: str | Path | None = None) -> TrainingTemplate:
    """The training template for `tokenizer` (see the module docstring for the order); ChatTemplateError
    with the fix when there is none. The result is verified before it is returned."""
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise ChatTemplateError(f"base.chat_template: {path} is not a file")
        text = path.read_text(encoding="utf-8")
        if not has_markers(text):
            raise ChatTemplateError(f"base.chat_template: {path} has no {{% generation %}} markers, so no token "
                                    f"would be trained. {_fix(model_type)}")
        resolved = TrainingTemplate(text, "custom", f"base.chat_template: {path}")
    else:
        current = _template_text(tokenizer)
        family = identify(current)
        if current is None:
            raise ChatTemplateError(f"the tokenizer has no chat template (a base, non-chat checkpoint? model_type "
                                    f"{model_type!r}). {_fix(model_type)}")
        if has_markers(current):
            resolved = TrainingTemplate(current, "own", "the tokenizer's own template (it has generation markers)")
        elif family is not None:
            resolved = TrainingTemplate(read_template(family.training), family.name,
                                        f"{family.title}: logtune's {family.training}.jinja", family.end_of_turn)
        else:
            resolved = _from_trl(tokenizer, model_type)
    return verify(tokenizer, resolved)


def _from_trl(tokenizer: Any, model_type: str | None) -> TrainingTemplate:
    from trl.chat_template_utils import get_training_chat_template

    try:
        text = get_training_chat_template(tokenizer)
    except ValueError:
        text = None
    if not text:
        raise ChatTemplateError(f"the chat template of this model (model_type {model_type!r}) is not one logtune or "
                                f"TRL knows how to mark for assistant-only loss, and it has no {{% generation %}} "
                                f"markers: training on it would train 0 tokens. {_fix(model_type)}")
    return TrainingTemplate(text, "trl", "TRL's get_training_chat_template")


def stop_token_ids(tokenizer: Any, end_of_turn: str | None = None, model_dir: str | Path | None = None) -> list[int]:
    """Token ids generation stops at: the tokenizer's EOS, `end_of_turn`, and the eos ids the model folder's
    generation_config.json lists (where the base stage records the family's end-of-turn token)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if end_of_turn is not None:
        token_id = tokenizer.convert_tokens_to_ids(end_of_turn)
        if token_id is None or token_id == tokenizer.unk_token_id:
            raise ChatTemplateError(f"the end-of-turn token {end_of_turn!r} is not in the tokenizer's vocabulary")
        ids.append(token_id)
    folder = model_dir if model_dir is not None else getattr(tokenizer, "name_or_path", None)
    config = Path(folder) / "generation_config.json" if folder else None
    if config is not None and config.is_file():
        eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token_id")
        ids += eos if isinstance(eos, list) else [eos] if isinstance(eos, int) else []
    return sorted(set(ids))


PROBE = [{"role": "system", "content": "You are a test."}, {"role": "user", "content": "Say ok."},
         {"role": "assistant", "content": "ok"}, {"role": "user", "content": "Again."},
         {"role": "assistant", "content": "ok again"}]


def last_trained_token(tokenizer: Any, ids: list[int], mask: list[int]) -> int | None:
    """The last masked token that is not whitespace (a template may train the newline after a turn's end)."""
    for token_id, bit in zip(reversed(ids), reversed(mask)):
        if bit and tokenizer.decode([token_id]).strip():
            return token_id
    return None


def verify(tokenizer: Any, resolved: TrainingTemplate) -> TrainingTemplate:
    """Render a probe chat: the replies must be masked and end on a stop token; ChatTemplateError otherwise.

    A template not from `FAMILIES` (own, custom, TRL's) may end its turns on another added token than
    EOS (`<|im_end|>`): that token becomes its `end_of_turn`, so generation stops there too."""
    try:
        out = tokenizer.apply_chat_template(PROBE, chat_template=resolved.template, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
    except Exception as e:  # a template error is the user's input, reported with where the template came from
        raise ChatTemplateError(f"{resolved.source}: rendering a system/user/assistant chat failed: {e}. "
                                f"{_fix(None)}") from None
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    if not any(mask):
        raise ChatTemplateError(f"{resolved.source}: the generation markers mask no token of the assistant "
                                f"replies. {_fix(None)}")
    stops = stop_token_ids(tokenizer, resolved.end_of_turn, model_dir="")
    last = last_trained_token(tokenizer, ids, mask)
    if last in stops:
        return resolved
    if resolved.end_of_turn is None and last in set(tokenizer.get_added_vocab().values()):
        return TrainingTemplate(resolved.template, resolved.family, resolved.source,
                                tokenizer.convert_ids_to_tokens(last))
    raise ChatTemplateError(f"{resolved.source}: the trained span ends on {tokenizer.decode([last])!r}, not on a "
                            f"token generation stops at ({[tokenizer.decode([s]) for s in stops]}): the model would "
                            f"never learn to end its turn. Put the end-of-turn token inside {{% endgeneration %}}.")


def require_markers(tokenizer: Any, where: str) -> None:
    """Stop a stage that would train or score with a template that has no generation markers."""
    if not has_markers(_template_text(tokenizer)):
        raise ChatTemplateError(f"{where}: the tokenizer's chat template has no {{% generation %}} markers (a model "
                                f"folder not written by the `base` stage?): assistant-only loss would train 0 tokens. "
                                f"Run `dvc repro base`, which applies the training template. {_fix(None)}")
