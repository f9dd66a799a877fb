"""Model cards: HF-style front matter, data hashes from dvc.lock (fresh ones), prompt version, deterministic."""

import json

import yaml

from logtune.ids import prompt_version
from logtune.train.card import lock_data_hashes, write_model_card

LOCK = {
    "schema": "2.0",
    "stages": {
        "mix": {"cmd": "python stages/mix.py", "deps": [{"path": "data/built", "md5": "built-1.dir"}],
                "outs": [{"path": "data/train", "md5": "train-NEW.dir"}]},
        "validate": {"cmd": "python stages/validate.py", "deps": [{"path": "data/train", "md5": "train-NEW.dir"}],
                     "outs": [{"path": "data/validated.json", "md5": "ok-1"}]},
        # sft's own entry is the previous run's while sft runs: its dep hash for data/train is stale
        "sft": {"cmd": "python stages/sft.py",
                "deps": [{"path": "data/train", "md5": "train-OLD.dir"}, {"path": "data/validated.json", "md5": "ok-1"},
                         {"path": "golden/golden.jsonl", "md5": "gold-1"}, {"path": "src/logtune/train", "md5": "x"}],
                "outs": [{"path": "models/sft", "md5": "sft-OLD.dir"}]},
    },
}
PARAMS = {"assistant": {"system_prompt": "Answer from CONTEXT only."}, "base": {"model": "tiny"}}
SECTION = {"learning_rate": 0.002, "lora": {"r": 16, "target_modules": ["q_proj", "v_proj"]}}


def adapter_dir(tmp_path):
    d = tmp_path / "models" / "sft"
    d.mkdir(parents=True)
    (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 16, "lora_alpha": 32,
                                                       "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}))
    (d / "logtune_model.json").write_text(json.dumps({"kind": "adapter", "base": "../base"}))
    return d


def write_inputs(tmp_path):
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))


def card(tmp_path, out, **kw):
    return write_model_card(out, stage="sft", section=SECTION, metrics={"steps": 12, "train_loss": 1.5},
                            lock_path=tmp_path / "dvc.lock", params_path=tmp_path / "params.yaml", **kw)


def front_matter(text):
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_records_base_adapter_data_prompt_params_and_metrics(tmp_path, monkeypatch):
    monkeypatch.delenv("LOGTUNE_SYSTEM_PROMPT", raising=False)
    monkeypatch.delenv("LOGTUNE_SYSTEM_PROMPT_EXTRA", raising=False)
    write_inputs(tmp_path)
    out = adapter_dir(tmp_path)
    text = card(tmp_path, out, golden_metrics={"accuracy": 0.5}).read_text()
    assert front_matter(text) == {"base_model": "../base", "library_name": "peft",
                                  "tags": ["logtune", "lora", "peft", "sft", "trl"]}
    assert '"r": 16' in text and '"lora_alpha": 32' in text
    assert "| `data/train` | `train-NEW.dir` |" in text and "train-OLD" not in text   # fresh hash, from its producer
    assert "| `golden/golden.jsonl` | `gold-1` |" in text                             # no producer: the dep entry
    assert "models/sft" not in text.split("## Data")[1].split("##")[0]                 # not this stage's own output
    assert prompt_version("Answer from CONTEXT only.") in text
    assert "learning_rate: 0.002" in text and '"train_loss": 1.5' in text and '"accuracy": 0.5' in text
    assert str(tmp_path) not in text   # no absolute paths: the model dir stays byte-identical elsewhere


def test_card_is_deterministic(tmp_path):
    write_inputs(tmp_path)
    out = adapter_dir(tmp_path)
    first = card(tmp_path, out).read_bytes()
    assert card(tmp_path, out).read_bytes() == first


def test_missing_lock_is_noted_not_an_error(tmp_path):
    out = adapter_dir(tmp_path)
    text = card(tmp_path, out).read_text()
    assert "Data hashes unknown" in text and "no dvc.lock" in text
    assert "No system prompt" in text   # no params.yaml either


def test_a_hub_base_model_is_named_by_its_id(tmp_path):
    write_inputs(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "base": {"model": "Qwen/Qwen2.5-32B-Instruct"}}))
    assert front_matter(card(tmp_path, adapter_dir(tmp_path)).read_text())["base_model"] == "Qwen/Qwen2.5-32B-Instruct"


def test_stage_not_in_lock_gets_every_data_hash(tmp_path):
    write_inputs(tmp_path)
    hashes, note = lock_data_hashes(tmp_path / "dvc.lock", "preference")
    assert note is None and hashes["data/train"] == "train-NEW.dir" and hashes["models/sft"] == "sft-OLD.dir"


def test_a_file_inside_an_output_folder_is_hashed_from_its_bytes_not_the_stale_deps_entry(tmp_path):
    # Seen on the default run: sft's deps name data/train/sft.parquet, mix's outs only the folder data/train,
    # so the card took sft's own lock entry, which is the previous run's: the card named last run's data.
    import hashlib

    lock = {"schema": "2.0", "stages": {
        "mix": {"cmd": "m", "outs": [{"path": "data/train", "md5": "train-NEW.dir"}]},
        "sft": {"cmd": "s", "deps": [{"path": "data/train/sft.parquet", "md5": "sft-data-OLD"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    data = tmp_path / "data" / "train" / "sft.parquet"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"the rows this run trains on")
    hashes, _ = lock_data_hashes(tmp_path / "dvc.lock", "sft")
    assert hashes == {"data/train/sft.parquet": hashlib.md5(b"the rows this run trains on").hexdigest()}


def test_wall_times_stay_out_of_the_card(tmp_path):
    # the same inputs must give a byte-identical model folder; seconds differ on every run
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    cards = []
    for seconds in (12.5, 40.1):
        out = tmp_path / f"m{seconds}"
        out.mkdir()
        path = write_model_card(out, stage="sft", section=SECTION, lock_path=tmp_path / "dvc.lock", params_path=None,
                                metrics={"steps": 12, "seconds": seconds, "phases": {"a": {"seconds": seconds}}})
        cards.append(path.read_text())
    assert cards[0] == cards[1] and '"seconds"' not in cards[0]
