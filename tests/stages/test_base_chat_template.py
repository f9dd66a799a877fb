"""The base stage and `base.chat_template`: a template nobody can patch stops the stage naming the fix, the fix
works, and the param is refused where it means nothing (the tiny model)."""

import pytest
import yaml

from logtune.base.pretrained import base_params
from logtune.chat_templates import ChatTemplateError, read_template
from logtune.params import ParamsError
from tests.fixtures.chat_families import save_hub_folder
from tests.stages.test_real_families import base_stage

# a revised Tulu-style template logtune does not know (the role markers changed)
REVISED = read_template("tulu3").replace("<|user|>", "<|human|>")


def test_an_unknown_template_stops_the_base_stage_with_the_fix(stage, tmp_path):
    hub = save_hub_folder("tulu3", tmp_path / "hub", chat_template=REVISED)
    with pytest.raises(ChatTemplateError) as e:
        base_stage(stage, tmp_path, hub)
    assert "model_type 'llama'" in str(e.value) and "base.chat_template: PATH" in str(e.value)
    assert not (tmp_path / "models" / "base").exists()   # nothing half-written for validate to pick up


def test_base_chat_template_is_the_fix(stage, tmp_path):
    hub = save_hub_folder("tulu3", tmp_path / "hub", chat_template=REVISED)
    mine = tmp_path / "revised_training.jinja"
    mine.write_text(read_template("tulu3_training").replace("<|user|>", "<|human|>"))
    base, metrics = base_stage(stage, tmp_path, hub, chat_template=str(mine))
    assert metrics["chat_template"]["family"] == "custom" and str(mine) in metrics["chat_template"]["source"]
    assert (base / "chat_template.jinja").read_text() == mine.read_text()


@pytest.mark.parametrize("section, message", [
    ({"model": "tiny", "chat_template": "x.jinja"}, None),
    ({"model": "some/model", "chat_template": 3}, "a file path or null"),
])
def test_chat_template_param_is_checked(tmp_path, section, message):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"base": section}))
    if message:
        with pytest.raises(ParamsError, match=message):
            base_params(params)
        return
    from logtune.base.pretrained import build

    p, template = base_params(params)
    with pytest.raises(ParamsError, match="only for a Hub id or local path"):
        build([], tmp_path / "out", p, template)
