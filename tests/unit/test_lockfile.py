import pytest

from logtune.lockfile import LockError, data_hashes, stage_hashes

LOCK = """schema: '2.0'
stages:
  build:
    cmd: python stages/build.py
    deps:
    - path: data/curated/conversations.parquet
      hash: md5
      md5: aaa
      size: 1
    - path: src/logtune/build
      hash: md5
      md5: bbb.dir
    outs:
    - path: data/built
      hash: md5
      md5: ccc.dir
  sft:
    deps:
    - path: data/built
      hash: md5
      md5: ccc.dir
    outs:
    - path: models/sft
      md5: ddd.dir
"""


def test_hashes_per_stage_and_data_paths_across_stages(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(LOCK)
    assert stage_hashes(lock, "sft") == {"sft": {"data/built": "ccc.dir", "models/sft": "ddd.dir"}}
    assert data_hashes(lock) == {"data/built": "ccc.dir", "data/curated/conversations.parquet": "aaa",
                                 "models/sft": "ddd.dir"}  # code paths left out


def test_missing_and_foreign_files_name_the_path(tmp_path):
    with pytest.raises(LockError, match="no dvc.lock"):
        data_hashes(tmp_path / "dvc.lock")
    (tmp_path / "x.lock").write_text("a: [1\n")
    with pytest.raises(LockError, match="x.lock: not valid YAML"):
        data_hashes(tmp_path / "x.lock")
    (tmp_path / "y.lock").write_text("stages: {}\n")
    with pytest.raises(LockError, match="not a DVC 2.0 lock"):
        stage_hashes(tmp_path / "y.lock", "sft")
