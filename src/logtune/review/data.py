"""`logtune review-data`: a seeded, stratified sample of the mixed training records on an offline review page.

Seed 004's spot-check before training. `--n` records are drawn from `data/train` (sft, preference, kto),
stratified by set, record type and provenance (`golden_from_logs.stratified`: a rare stratum is not
drowned), each shown as the trainer sees it: SFT examples through the base model's chat template with
the trained tokens marked (`train.preview`, when `--tokenizer` is given), pairs and KTO examples as
prompt / chosen / rejected. The page (`--out`, one self-contained HTML file, no network) has keep /
reject / fix per record with a reason, and "Save marks" downloads `<date>.jsonl` in the format of
`logtune.reviews` (with this data's `data_version`), to be committed under `reviews/`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from logtune.io import atomic_open, read_json, read_rows
from logtune.review.golden_from_logs import stratified
from logtune.reviews import SETS, data_version
from logtune.train.preview import CLOSE, OPEN, prepare_example, render


def load_sets(train: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: read_rows(train / f"{name}.parquet") if (train / f"{name}.parquet").exists() else [] for name in SETS}


def _chat(messages) -> str:
    return "\n".join(f"<{m['role']}> {m['content']}" for m in messages or [])


def shown(name: str, row: dict[str, Any], tokenizer: Any = None) -> tuple[str, str]:
    """(what the trainer sees, the reply a fix replaces)."""
    if name == "sft":
        target = row["messages"][-1]["content"]
        if tokenizer is not None:
            return render(prepare_example(row, tokenizer), tokenizer), target
        return _chat(row["messages"][:-1]) + f"\n<assistant> {OPEN}{target}{CLOSE}", target
    if name == "preference":
        target = row["chosen"][-1]["content"]
        return (_chat(row["prompt"]) + f"\n<chosen> {OPEN}{target}{CLOSE}\n<rejected> {row['rejected'][-1]['content']}",
                target)
    target = row["completion"][-1]["content"]
    return _chat(row["prompt"]) + f"\n<completion, label {row['label']}> {OPEN}{target}{CLOSE}", target


def draw(sets: dict[str, list[dict[str, Any]]], n: int, seed: int) -> list[dict[str, Any]]:
    entries = [{"set": name, "row": r, "stratum": f"{name}/{r.get('record_type') or '-'}/{r.get('provenance') or '-'}"}
               for name in SETS for r in sorted(sets.get(name, []), key=lambda r: r["id"])]
    return stratified(entries, n, seed, key=lambda e: e["stratum"])


def _marked(text: str) -> str:
    return html.escape(text).replace(html.escape(OPEN), "<mark>").replace(html.escape(CLOSE), "</mark>")


PAGE_JS = """
function marks(){const out=[];document.querySelectorAll('.rec').forEach(r=>{const m=r.querySelector('input[type=radio]:checked');
 if(!m)return;out.push({id:r.dataset.id,set:r.dataset.set,mark:m.value,reason:r.querySelector('.reason').value||null,
 fix:m.value==='fix'?r.querySelector('.fix').value:null,reviewed_at:META.date,data_version:META.data_version});});return out;}
function save(){const lines=marks().map(m=>JSON.stringify(m)).join('\\n')+'\\n';document.getElementById('out').textContent=lines;
 const a=document.createElement('a');a.href=URL.createObjectURL(new Blob([lines],{type:'application/jsonl'}));
 a.download=META.date+'.jsonl';document.body.appendChild(a);a.click();
 document.getElementById('status').textContent=marks().length+' marks saved as '+META.date+'.jsonl: put it in reviews/';}
"""


def page(sample: list[dict[str, Any]], version: str, date: str, tokenizer: Any = None) -> str:
    cards = []
    for i, e in enumerate(sample):
        text, target = shown(e["set"], e["row"], tokenizer)
        rid = html.escape(e["row"]["id"])
        radios = "".join(f'<label><input type="radio" name="m{i}" value="{v}"> {v}</label> ' for v in ("keep", "reject", "fix"))
        cards.append(f'<div class="rec" data-id="{rid}" data-set="{e["set"]}"><h3>{i + 1}. {rid} '
                     f'<small>{html.escape(e["stratum"])}</small></h3><pre>{_marked(text)}</pre>{radios}'
                     f'<input class="reason" placeholder="reason"><textarea class="fix">{html.escape(target)}</textarea></div>')
    meta = json.dumps({"date": date, "data_version": version})
    return (f"<!doctype html><meta charset=utf-8><title>logtune review {date}</title><style>pre{{white-space:pre-wrap}}"
            f"mark{{background:#cfc}}.rec{{border:1px solid #ccc;margin:8px;padding:8px}}textarea{{width:100%}}</style>"
            f"<h1>Review {len(sample)} training records</h1><p>Trained tokens are highlighted. Data version {version}.</p>"
            + "".join(cards) + f'<button id="save" onclick="save()">Save marks</button> <span id="status"></span>'
            f'<textarea id="out" readonly></textarea><script>const META={meta};{PAGE_JS}</script>')


def command(args) -> int:
    """Write an offline review page for a seeded, stratified sample of the training records."""
    sets = load_sets(args.train)
    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer, local_files_only=True)
    sample = draw(sets, args.n, args.seed)
    date = args.date or dt.date.today().isoformat()
    # the version mix applies marks against: that of the sets before the last review changed them
    applied = args.train / "review.json"
    version = read_json(applied)["data_version"] if applied.exists() else data_version(sets)
    with atomic_open(args.out) as f:
        f.write(page(sample, version, date, tokenizer))
    print(f"review-data: {len(sample)} records on {args.out}; save the marks into reviews/{date}.jsonl")
    return 0


ARGS = (
    (("--train",), dict(type=Path, default=Path("data/train"))),
    (("--n",), dict(type=int, default=100)),
    (("--seed",), dict(type=int, default=0)),
    (("--tokenizer",), dict(type=Path, help="model folder whose chat template marks the trained tokens (models/base)")),
    (("--out",), dict(type=Path, default=Path("data/review/index.html"))),
    (("--date",), dict(help="the review's date (default: today), its file name in reviews/")),
)
