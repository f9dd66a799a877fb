"""`logtune review-data`: a seeded, stratified sample of the mixed training records on an offline review page.

Seed 004's spot-check before training. `--n` records are drawn from `data/train` (sft, preference, kto),
stratified by set, record type and provenance (`golden_from_logs.stratified`: a rare stratum is not
drowned), each shown as the trainer sees it: SFT examples through the base model's chat template with
the trained tokens marked (`train.preview`, when `--tokenizer` is given), pairs and KTO examples as
prompt / chosen / rejected. The page (`--out`, one self-contained HTML file, no network) has keep /
reject / fix per record with a reason, and "Save marks" downloads `<date>.jsonl` in the format of
`logtune.reviews` (with this data's `data_version`), to be committed under `reviews/`. The same page is
served by `logtune serve` at GET /review, where Save posts the marks to the service, which writes
`reviews/<date>.jsonl` itself (`logtune.serve.review`).
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
const KEY=new URLSearchParams(location.search).get('key');
if(KEY)history.replaceState(null,'',location.pathname);   // the key leaves the address bar (and the history)
function marks(){const out=[];document.querySelectorAll('.rec').forEach(r=>{const m=r.querySelector('input[type=radio]:checked');
 if(!m)return;out.push({id:r.dataset.id,set:r.dataset.set,mark:m.value,reason:r.querySelector('.reason').value||null,
 fix:m.value==='fix'?r.querySelector('.fix').value:null,reviewed_at:META.date,data_version:META.data_version});});return out;}
function status(text){document.getElementById('status').textContent=text;}
function post(ms){const h={'Content-Type':'application/json'};if(KEY)h['Authorization']='Bearer '+KEY;
 fetch(META.save_url,{method:'POST',headers:h,body:JSON.stringify({date:META.date,marks:ms})})
 .then(r=>r.json().then(b=>{if(r.ok){status(b.marks+' marks in '+b.file);document.title='saved '+b.file;}
  else{status('NOT saved: '+JSON.stringify(b.detail));document.title='not saved';}}))
 .catch(e=>{status('NOT saved: '+e);document.title='not saved';});}
function save(){const ms=marks();const lines=ms.map(m=>JSON.stringify(m)).join('\\n')+'\\n';document.getElementById('out').textContent=lines;
 if(META.save_url){post(ms);return;}
 const a=document.createElement('a');a.href=URL.createObjectURL(new Blob([lines],{type:'application/jsonl'}));
 a.download=META.date+'.jsonl';document.body.appendChild(a);a.click();
 status(ms.length+' marks saved as '+META.date+'.jsonl: put it in reviews/');}
"""


def page(sample: list[dict[str, Any]], version: str, date: str, tokenizer: Any = None, save_url: str | None = None) -> str:
    """The review page. `save_url` (`logtune serve`'s POST /api/review/marks): Save posts the marks there, with
    the key the page was opened with (`?key=`); None (the static page): Save downloads `<date>.jsonl`."""
    cards = []
    for i, e in enumerate(sample):
        text, target = shown(e["set"], e["row"], tokenizer)
        rid = html.escape(e["row"]["id"])
        radios = "".join(f'<label><input type="radio" name="m{i}" value="{v}"> {v}</label> ' for v in ("keep", "reject", "fix"))
        cards.append(f'<div class="rec" data-id="{rid}" data-set="{e["set"]}"><h3>{i + 1}. {rid} '
                     f'<small>{html.escape(e["stratum"])}</small></h3><pre>{_marked(text)}</pre>{radios}'
                     f'<input class="reason" placeholder="reason"><textarea class="fix">{html.escape(target)}</textarea></div>')
    meta = json.dumps({"date": date, "data_version": version, "save_url": save_url}).replace("</", "<\\/")
    where = "saved to reviews/ by the service" if save_url else "downloaded: put the file in reviews/"
    return (f"<!doctype html><meta charset=utf-8><title>logtune review {date}</title><style>pre{{white-space:pre-wrap}}"
            f"mark{{background:#cfc}}.rec{{border:1px solid #ccc;margin:8px;padding:8px}}textarea{{width:100%}}</style>"
            f"<h1>Review {len(sample)} training records</h1><p>Trained tokens are highlighted. Data version {version}. "
            f"Marks are {where}.</p>"
            + "".join(cards) + f'<button id="save" onclick="save()">Save marks</button> <span id="status"></span>'
            f'<textarea id="out" readonly></textarea><script>const META={meta};{PAGE_JS}</script>')


def load_tokenizer(path: Path | None) -> Any:
    """The chat template that marks the trained tokens (None: the plain transcript)."""
    if path is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def current_version(train: Path, sets: dict[str, list[dict[str, Any]]]) -> str:
    """The version mix applies marks against: that of the sets before the last review changed them."""
    applied = train / "review.json"
    return read_json(applied)["data_version"] if applied.exists() else data_version(sets)


def command(args) -> int:
    """Write an offline review page for a seeded, stratified sample of the training records."""
    sets = load_sets(args.train)
    sample = draw(sets, args.n, args.seed)
    date = args.date or dt.date.today().isoformat()
    with atomic_open(args.out) as f:
        f.write(page(sample, current_version(args.train, sets), date, load_tokenizer(args.tokenizer)))
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
