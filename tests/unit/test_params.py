from dataclasses import dataclass

import pytest

from logtune.params import ParamsError, load_params, load_yaml


def test_floats_as_dvc_writes_them_are_floats():
    # `dvc exp run -S x=5e-6` writes `5e-06` (YAML 1.2); plain PyYAML would read the string '5e-06'
    data = load_yaml("a: 5e-06\nb: 1e3\nc: 2.0e-3\nd: .5\ne: 3\nf: 'x'\ng: 1_000\nh: .inf\ni: 1.5.2\n")
    assert data == {"a": 5e-06, "b": 1000.0, "c": 0.002, "d": 0.5, "e": 3, "f": "x", "g": 1000,
                    "h": float("inf"), "i": "1.5.2"}
    assert isinstance(data["b"], float) and isinstance(data["e"], int)


@dataclass(frozen=True)
class Pretrain:
    learning_rate: float = 1e-3
    epochs: int = 1


def test_a_section_set_by_dvc_exp_run_loads_and_a_typo_is_named(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("base:\n  learning_rate: 5e-06\n  epochs: 2\n")
    assert load_params(p, "base", Pretrain) == Pretrain(learning_rate=5e-06, epochs=2)
    p.write_text("base:\n  learnig_rate: 5e-06\n")
    with pytest.raises(ParamsError, match="learnig_rate"):
        load_params(p, "base", Pretrain)
