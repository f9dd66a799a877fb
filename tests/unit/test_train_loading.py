import pytest

from logtune.io import read_json
from logtune.models import ModelDirError, base_dir_of, read_marker, write_marker


def test_adapter_marker_stores_base_relative_to_the_adapter(tmp_path):
    (tmp_path / "models" / "base").mkdir(parents=True)
    write_marker(tmp_path / "models" / "base", "full")
    write_marker(tmp_path / "models" / "sft", "adapter", tmp_path / "models" / "base")
    assert read_json(tmp_path / "models" / "sft" / "logtune_model.json") == {"kind": "adapter", "base": "../base"}
    assert base_dir_of(tmp_path / "models" / "sft") == (tmp_path / "models" / "base").resolve()
    assert base_dir_of(tmp_path / "models" / "base") == tmp_path / "models" / "base"


def test_directory_without_marker_is_rejected(tmp_path):
    with pytest.raises(ModelDirError, match="no logtune_model.json"):
        read_marker(tmp_path)


def test_adapter_marker_without_base_is_rejected(tmp_path):
    (tmp_path / "logtune_model.json").write_text('{"kind": "adapter"}')
    with pytest.raises(ModelDirError, match="kind 'adapter' with a 'base'"):
        read_marker(tmp_path)
