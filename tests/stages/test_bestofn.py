"""The bestofn stage on a tiny model built here: seeded (two runs, same bytes), every prompt accounted for,
every kept pair's chosen side above its rejected side on the rules."""

import json

import yaml

from logtune.bestofn.pairs import rule_scores
from logtune.io import read_json, read_rows, write_rows
from logtune.records import KTO_EXAMPLE, PREFERENCE_PAIR, SFT_EXAMPLE
from tests.fixtures.evaluate.tiny_model import save_tiny_model

SYS = {"role": "system", "content": 'You are the support assistant. CONTEXT: {"id": "PRJ-1042", "status": "in progress"}'}


def test_bestofn_stage(stage, tmp_path):
    save_tiny_model(tmp_path / "sft")
    train = tmp_path / "train"
    q = ["Status of PRJ-1042?", "Who owns PRJ-1042?", "When is PRJ-1042 due?"]
    write_rows(train / "sft.parquet", [{"id": "s", "messages": [SYS, {"role": "user", "content": q[0]},
                                                                {"role": "assistant", "content": "In progress."}]}],
               SFT_EXAMPLE)
    write_rows(train / "preference.parquet", [{"id": f"p{i}", "prompt": [SYS, {"role": "user", "content": t}],
                                               "chosen": [{"role": "assistant", "content": "a"}],
                                               "rejected": [{"role": "assistant", "content": "b"}]}
                                              for i, t in enumerate(q)], PREFERENCE_PAIR)
    write_rows(train / "kto.parquet", [{"id": "k0", "prompt": [SYS, {"role": "user", "content": "Is PRJ-1042 late?"}],
                                        "completion": [{"role": "assistant", "content": "No."}], "label": True}],
               KTO_EXAMPLE)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"bestofn": {"n": 3, "max_new_tokens": 12, "min_margin": 0.0001}}))
    outs = []
    for run in ("a", "b"):
        rc = stage("bestofn").main([str(tmp_path / "sft"), str(train), str(tmp_path / run), "--params", str(params),
                                    "--metrics", str(tmp_path / f"{run}.json")])
        assert rc == 0
        outs.append((tmp_path / run / "pairs.parquet").read_bytes())
    assert outs[0] == outs[1]
    m = read_json(tmp_path / "a.json")
    assert m["prompts_read"] == 4 and m["skipped_by_reason"] == {"used_for_sft": 1} and m["prompts_sampled"] == 3
    assert m["prompts_sampled"] == m["pairs"] + sum(m["dropped_by_reason"].values())
    graded = [json.loads(line) for line in (tmp_path / "a" / "graded.jsonl").read_text().splitlines()]
    assert len(graded) == 3 and all(len(g["candidates"]) == 3 for g in graded)
    for pair in read_rows(tmp_path / "a" / "pairs.parquet"):
        chosen, rejected = rule_scores(list(pair["prompt"]), [pair["chosen"][0]["content"], pair["rejected"][0]["content"]])
        assert chosen > rejected and pair["provenance"] == "synthetic"
