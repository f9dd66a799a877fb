"""The service's params: the auto-rules path has one owner, curate.rules."""

import pytest

from logtune.params import ParamsError
from logtune.serve.config import load_serve_params


def test_the_service_judges_with_curates_rules(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("curate:\n  rules: rules/team.yaml\nserve:\n  port: 9001\n", encoding="utf-8")
    params = load_serve_params(path)
    assert params.rules == "rules/team.yaml" and params.port == 9001


def test_setting_rules_under_serve_names_the_owner(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("curate:\n  rules: rules/a.yaml\nserve:\n  rules: rules/b.yaml\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="curate.rules"):
        load_serve_params(path)
