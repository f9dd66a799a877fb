"""A Hub or local checkpoint as models/base: copied in with its training chat template applied.

`base.model` set to a Hub id (from the local cache only: nothing is downloaded) or a local folder:
the model and tokenizer are saved as a full logtune model folder, with the chat template replaced by
its training variant (`logtune.chat_templates.resolve`: the same text plus `{% generation %}`
markers), and generation_config's eos ids extended with the family's end-of-turn token, so the
tokenizer every later stage reads from models/base trains, masks and stops the same way. A template
that cannot be patched stops the stage with the fix (`base.chat_template: PATH`).

`base.chat_template` is read here rather than by `logtune.base.tiny.BaseParams` (`base_params`), so
the tiny model's parameters stay that module's own. Not for the tiny model (`logtune.base.tiny`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logtune.chat_templates import resolve, stop_token_ids, template_version
from logtune.params import ParamsError, from_dict, read_params
from logtune.base.tiny import BaseParams, build_base


def base_params(path: str | Path) -> tuple[BaseParams, str | None]:
    """params.yaml `base`: (BaseParams, `chat_template` path or None)."""
    section = read_params(path).get("base")
    if not isinstance(section, dict):
        raise ParamsError(f"{path}: no 'base' section")
    section = dict(section)
    for key in ("architecture", "t5"):   # the encoder-decoder path's own keys: logtune.base.t5.seq2seq_params
        section.pop(key, None)
    chat_template = section.pop("chat_template", None)
    if chat_template is not None and not isinstance(chat_template, str):
        raise ParamsError(f"params section 'base.chat_template': a file path or null, got {chat_template!r}")
    return from_dict(BaseParams, section, "base"), chat_template


def build(conversations: list[dict[str, Any]], out_dir: str | Path, params: BaseParams,
          chat_template: str | None = None, log=print) -> dict[str, Any]:
    """Write models/base: the tiny model pre-trained here, or the checkpoint `params.model` with its training template."""
    if params.model == "tiny":
        if chat_template is not None:
            raise ParamsError("base.chat_template: only for a Hub id or local path; the tiny model builds its own "
                              "template (logtune.base.tokenizer.CHAT_TEMPLATE)")
        return build_base(conversations, out_dir, params, log=log)
    return copy_pretrained(params.model, out_dir, params.padding_side, chat_template)


def copy_pretrained(name: str | Path, out_dir: str | Path, padding_side: str = "left",
                    chat_template: str | Path | None = None) -> dict[str, Any]:
    """Load a Hub id (local cache only) or a local path; save it as a full logtune model folder whose tokenizer
    carries the training chat template. ChatTemplateError (naming the fix) when no template can be made."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from logtune.base.tokenizer import CHAT_TEMPLATE
    from logtune.models import write_marker

    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True, padding_side=padding_side)
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True)
    if tokenizer.pad_token is None:  # TRL and batched evaluation both need one
        tokenizer.pad_token = tokenizer.eos_token
    original = tokenizer.chat_template
    if not original and chat_template is None:
        # a base (non-chat) checkpoint: logtune's own layout, role markers as plain text, EOS trained
        tokenizer.chat_template = CHAT_TEMPLATE
    resolved = resolve(tokenizer, getattr(model.config, "model_type", None), chat_template)
    tokenizer.chat_template = resolved.template
    stops = stop_token_ids(tokenizer, resolved.end_of_turn, model_dir="")
    model.generation_config.eos_token_id = stops[0] if len(stops) == 1 else stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_marker(out_dir, "full")
    return {"model": str(name), "params": sum(w.numel() for w in model.parameters()), "vocab_size": len(tokenizer),
            "chat_template": {"family": resolved.family, "source": resolved.source,
                              "version": template_version(resolved.template),
                              "original_version": template_version(original) if original else None,
                              "stop_tokens": tokenizer.convert_ids_to_tokens(stops)}}
