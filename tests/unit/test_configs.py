"""Every config file the repo ships builds the real objects, in one parametrized test (torchtune's
test_configs.py habit): each params.yaml section into its stage's dataclass or the TRL / PEFT /
transformers configs, each recipe merged onto params.yaml, each Great Expectations suite into a real GX
suite, each JSON Schema into a checked validator, the auto-rules file into Rules. Each case asserts that
the values written in the file are the values the built object holds, so a key the code silently drops,
renames or no longer accepts fails here, not in a run."""

from __future__ import annotations

import ast
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator

from logtune.params import ParamsError, load_params, read_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and sets as the dicts and lists YAML writes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _holds(obj: Any, written: dict[str, Any], where: str, skip: set[str] = frozenset()) -> int:
    """Assert every key written in the file reached `obj` with its value; return how many were checked."""
    checked = 0
    for key, value in written.items():
        if key in skip:
            continue
        got = _plain(getattr(obj, key)) if not isinstance(obj, dict) else _plain(obj[key])
        want = _plain(value)
        assert _contains(got, want), f"{where}.{key}: the file says {want!r}, the built object holds {got!r}"
        checked += 1
    return checked


def _contains(got: Any, want: Any) -> bool:
    """`got` holds `want`: equal values, with the defaults a dataclass fills in beside what was written."""
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _contains(got[k], v) for k, v in want.items())
    if isinstance(want, list) and isinstance(got, list):
        if all(isinstance(v, str) for v in want):
            return sorted(got) == sorted(want)   # PEFT keeps target_modules as a set
        return len(got) == len(want) and all(_contains(g, w) for g, w in zip(got, want))
    return got == want


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


def _stage_section(script: str, section: str, cls_name: str) -> Callable[[Any], int]:
    def check(stage) -> int:
        built = load_params(PARAMS, section, getattr(stage(script), cls_name))
        return _holds(built, read_params(PARAMS)[section], section)
    return check


def _validate(stage) -> int:
    from logtune.validate.gates import OWNED_ELSEWHERE, validate_params

    params = read_params(PARAMS)
    built = validate_params(params)
    owned = {name: params[owner][key] for name, (owner, key) in OWNED_ELSEWHERE.items()}
    return _holds(built, params["validate"], "validate") + _holds(built, owned, "validate (owned elsewhere)")


def _sft_section(section: dict[str, Any], where: str) -> int:
    from peft import LoraConfig
    from trl import SFTConfig

    from logtune.train.config import SFT_OWN, parse_sft

    with tempfile.TemporaryDirectory() as out:
        setup = parse_sft(section, out)   # the stage's one parse
    config, lora, bnb = setup.args, setup.lora, setup.bnb()
    assert isinstance(config, SFTConfig)
    checked = _holds(config, section, where, skip=SFT_OWN)
    assert isinstance(lora, LoraConfig)
    checked += _holds(lora, section.get("lora") or {}, f"{where}.lora")
    if section.get("quantization") is None:
        assert bnb is None
    else:
        checked += _holds(bnb, section.get("bnb") or {}, f"{where}.bnb")
    checked += _holds(setup.curriculum, section.get("curriculum") or {}, f"{where}.curriculum")
    return checked


def _preference_section(section: dict[str, Any], where: str) -> int:
    from trl import DPOConfig, KTOConfig

    from logtune.train.config import dpo_config, kto_config, preference_config

    with tempfile.TemporaryDirectory() as out:
        objective, config = preference_config(section, out)
        dpo, kto = dpo_config(section.get("dpo"), out), kto_config(section.get("kto"), out)
    assert objective == section.get("objective", "dpo")
    assert isinstance(config, DPOConfig if objective == "dpo" else KTOConfig)
    assert isinstance(dpo, DPOConfig) and isinstance(kto, KTOConfig)
    return _holds(dpo, section.get("dpo") or {}, f"{where}.dpo") + _holds(kto, section.get("kto") or {}, f"{where}.kto")


def _recipe(path: Path) -> Callable[[Any], int]:
    def check(stage) -> int:
        from logtune.train.recipes import load_recipe

        recipe = load_recipe(path)
        merged = read_params(PARAMS)
        for name, body in recipe.items():   # what `dvc exp run -S` does: leaves replace, mappings merge
            merged[name] = _merge(merged.get(name), body)
        assert recipe, f"{path.name} sets nothing"
        checked = 0
        if "sft" in recipe:
            checked += _sft_section(merged["sft"], f"{path.name}: sft")
        if "preference" in recipe:
            checked += _preference_section(merged["preference"], f"{path.name}: preference")
        return checked
    return check


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return over


def _suite(path: Path) -> Callable[[Any], int]:
    def check(stage) -> int:
        from logtune.validate.gates import validate_params
        from logtune.validate.suites import gx_suite, load_suite

        raw = json.loads(path.read_text())
        suite = gx_suite(load_suite(path, dataclasses.asdict(validate_params(read_params(PARAMS)))))
        assert len(suite.expectations) == len(raw["expectations"]) > 0
        for expectation in raw["expectations"]:
            assert expectation.get("meta", {}).get("notes"), f"{path.name}: {expectation['type']} has no meta.notes"
        return len(suite.expectations)
    return check


def _schema(path: Path) -> Callable[[Any], int]:
    def check(stage) -> int:
        from logtune.schema_check import compile_conforms

        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        assert ".v" in path.name, "schema files carry their version in the name"
        assert schema.get("type") == "object" and schema.get("required"), f"{path.name}: no required fields"
        assert not Draft202012Validator(schema).is_valid({}), f"{path.name}: an empty record must not conform"
        conforms = compile_conforms(schema)   # None: logtune's fast path leaves this schema to jsonschema
        assert conforms is None or conforms({}) is not True
        return len(schema["required"])
    return check


def _rules(stage) -> int:
    from logtune.rules import load_rules

    params = read_params(PARAMS)
    rules = load_rules(ROOT / params["curate"]["rules"])
    assert rules.reject_reasons, "the shipped auto-rules reject nothing"
    return len(rules.reject_reasons)


def _cases() -> list:
    params = read_params(PARAMS)
    cases = [pytest.param(_stage_section(*load), id=f"params.yaml:{load[1]}") for load in _params_loads()]
    cases += [pytest.param(_validate, id="params.yaml:validate"),
              pytest.param(lambda stage: _sft_section(params["sft"], "sft"), id="params.yaml:sft"),
              pytest.param(lambda stage: _preference_section(params["preference"], "preference"),
                           id="params.yaml:preference"),
              pytest.param(_rules, id="rules/auto_rules.yaml")]
    cases += [pytest.param(_recipe(p), id=f"recipes/{p.name}") for p in sorted((ROOT / "recipes").glob("*.yaml"))]
    cases += [pytest.param(_suite(p), id=f"expectations/{p.name}") for p in sorted((ROOT / "expectations").glob("*.json"))]
    cases += [pytest.param(_schema(p), id=f"schemas/{p.name}") for p in sorted((ROOT / "schemas").glob("*.json"))]
    return cases


@pytest.mark.parametrize("check", _cases())
def test_every_shipped_config_builds_what_it_says(check, stage, monkeypatch):
    # recipes are GPU recipes (bf16): building their TrainingArguments on this CPU needs bf16 to be allowed
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    assert check(stage) > 0, "a config case that checked nothing"


def test_every_shipped_config_file_has_a_case():
    ids = {p.id for p in _cases()}
    shipped = ([f"recipes/{p.name}" for p in (ROOT / "recipes").glob("*.yaml")]
               + [f"expectations/{p.name}" for p in (ROOT / "expectations").glob("*.json")]
               + [f"schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")])
    assert set(shipped) <= ids
    stage_sections = {load[1] for load in _params_loads()}
    assert {"sample", "export", "curate", "build", "mix", "gate", "evaluate", "dryrun"} <= stage_sections


def test_unknown_key_is_an_error_naming_section_and_key(tmp_path, stage):
    for script, section, cls_name in _params_loads():
        cls = getattr(stage(script), cls_name)
        (tmp_path / "p.yaml").write_text(f"{section}:\n  no_such_option: 1\n")
        with pytest.raises(ParamsError, match=f"{section}.*no_such_option"):
            load_params(tmp_path / "p.yaml", section, cls)
