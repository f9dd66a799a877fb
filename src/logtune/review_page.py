"""The review queue's sample and page (issue #17, seed 004's spot-check): shared by `logtune review-data`,
`logtune serve`'s GET /review and the `review` stage (ground floor).

- `draw`: a seeded sample of the mixed training records (sft, preference, kto), stratified by set, record
  type and provenance (`stratified`: a seeded shuffle per stratum, then round-robin, so a rare stratum is
  not drowned by the common one);
- `page`: one self-contained HTML file, no network: each record as the trainer sees it with the trained
  text marked (SFT records through the base model's chat template when the caller passes `render_sft`,
  `logtune.train.preview`; else the plain transcript), keep / reject / fix with a reason per record, and
  "Save marks" that downloads `<date>.jsonl` in `logtune.reviews`' format (or posts it to `save_url`).
  A page drawn with no date (the `review` stage's: the same bytes on every run) dates the marks the day
  they are saved.
"""

from __future__ import annotations

import html
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from logtune.io import read_json, read_rows
from logtune.reviews import SETS, data_version

OPEN, CLOSE = "[[", "]]"             # around each run of trained tokens in plain output (also `logtune preview`)


def stratified(entries: list[dict[str, Any]], n: int, seed: int, key=lambda e: e["review"]["stratum"]
               ) -> list[dict[str, Any]]:
    """Up to n entries: each stratum (`key`) shuffled (seeded), then taken round-robin, strata in name order."""
    strata: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        strata[key(e)].append(e)
    rng = random.Random(seed)
    queues = []
    for name in sorted(strata):
        items = list(strata[name])
        rng.shuffle(items)
        queues.append(items)
    out: list[dict[str, Any]] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def load_sets(train: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: read_rows(train / f"{name}.parquet") if (train / f"{name}.parquet").exists() else [] for name in SETS}


def current_version(train: Path, sets: dict[str, list[dict[str, Any]]]) -> str:
    """The version mix applies marks against: that of the sets before the last review changed them."""
    applied = train / "review.json"
    return read_json(applied)["data_version"] if applied.exists() else data_version(sets)


def stratum(name: str, row: dict[str, Any]) -> str:
    return f"{name}/{row.get('record_type') or '-'}/{row.get('provenance') or '-'}"


def draw(sets: dict[str, list[dict[str, Any]]], n: int, seed: int) -> list[dict[str, Any]]:
    """[{set, row, stratum}]: up to n records, stratified by set, record type and provenance."""
    entries = [{"set": name, "row": r, "stratum": stratum(name, r)}
               for name in SETS for r in sorted(sets.get(name, []), key=lambda r: r["id"])]
    return stratified(entries, n, seed, key=lambda e: e["stratum"])


def _chat(messages) -> str:
    return "\n".join(f"<{m['role']}> {m['content']}" for m in messages or [])


def shown(name: str, row: dict[str, Any], render_sft: Callable[[dict[str, Any]], str] | None = None) -> tuple[str, str]:
    """(what the trainer sees, the reply a fix replaces). `render_sft`: an SFT row as the chat template
    renders it, trained tokens between OPEN and CLOSE (None: the plain transcript, the last reply marked)."""
    if name == "sft":
        target = row["messages"][-1]["content"]
        if render_sft is not None:
            return render_sft(row), target
        return _chat(row["messages"][:-1]) + f"\n<assistant> {OPEN}{target}{CLOSE}", target
    if name == "preference":
        target = row["chosen"][-1]["content"]
        return (_chat(row["prompt"]) + f"\n<chosen> {OPEN}{target}{CLOSE}\n<rejected> {row['rejected'][-1]['content']}",
                target)
    target = row["completion"][-1]["content"]
    return _chat(row["prompt"]) + f"\n<completion, label {row['label']}> {OPEN}{target}{CLOSE}", target


def _marked(text: str) -> str:
    return html.escape(text).replace(html.escape(OPEN), "<mark>").replace(html.escape(CLOSE), "</mark>")


PAGE_JS = """
const KEY=new URLSearchParams(location.search).get('key');
if(KEY)history.replaceState(null,'',location.pathname);   // the key leaves the address bar (and the history)
const DATE=META.date||new Date().toISOString().slice(0,10);   // a page drawn undated: the day the marks are made
function marks(){const out=[];document.querySelectorAll('.rec').forEach(r=>{const m=r.querySelector('input[type=radio]:checked');
 if(!m)return;out.push({id:r.dataset.id,set:r.dataset.set,mark:m.value,reason:r.querySelector('.reason').value||null,
 fix:m.value==='fix'?r.querySelector('.fix').value:null,reviewed_at:DATE,data_version:META.data_version});});return out;}
function status(text){document.getElementById('status').textContent=text;}
function post(ms){const h={'Content-Type':'application/json'};if(KEY)h['Authorization']='Bearer '+KEY;
 fetch(META.save_url,{method:'POST',headers:h,body:JSON.stringify({date:DATE,marks:ms})})
 .then(r=>r.json().then(b=>{if(r.ok){status(b.marks+' marks in '+b.file);document.title='saved '+b.file;}
  else{status('NOT saved: '+JSON.stringify(b.detail));document.title='not saved';}}))
 .catch(e=>{status('NOT saved: '+e);document.title='not saved';});}
function save(){const ms=marks();const lines=ms.map(m=>JSON.stringify(m)).join('\\n')+'\\n';document.getElementById('out').textContent=lines;
 if(META.save_url){post(ms);return;}
 const a=document.createElement('a');a.href=URL.createObjectURL(new Blob([lines],{type:'application/jsonl'}));
 a.download=DATE+'.jsonl';document.body.appendChild(a);a.click();
 status(ms.length+' marks saved as '+DATE+'.jsonl: put it in reviews/');}
"""


def page(sample: list[dict[str, Any]], version: str, date: str | None,
         render_sft: Callable[[dict[str, Any]], str] | None = None, save_url: str | None = None) -> str:
    """The review page. `save_url` (`logtune serve`'s POST /api/review/marks): Save posts the marks there, with
    the key the page was opened with (`?key=`); None (the static page): Save downloads `<date>.jsonl`.
    `date` None: the marks are dated (and the file named) the day they are saved."""
    cards = []
    for i, e in enumerate(sample):
        text, target = shown(e["set"], e["row"], render_sft)
        rid = html.escape(e["row"]["id"])
        radios = "".join(f'<label><input type="radio" name="m{i}" value="{v}"> {v}</label> ' for v in ("keep", "reject", "fix"))
        cards.append(f'<div class="rec" data-id="{rid}" data-set="{e["set"]}"><h3>{i + 1}. {rid} '
                     f'<small>{html.escape(e["stratum"])}</small></h3><pre>{_marked(text)}</pre>{radios}'
                     f'<input class="reason" placeholder="reason"><textarea class="fix">{html.escape(target)}</textarea></div>')
    meta = json.dumps({"date": date, "data_version": version, "save_url": save_url}).replace("</", "<\\/")
    where = "saved to reviews/ by the service" if save_url else "downloaded: put the file in reviews/"
    title = f"logtune review {date}" if date else "logtune review"
    return (f"<!doctype html><meta charset=utf-8><title>{title}</title><style>pre{{white-space:pre-wrap}}"
            f"mark{{background:#cfc}}.rec{{border:1px solid #ccc;margin:8px;padding:8px}}textarea{{width:100%}}</style>"
            f"<h1>Review {len(sample)} training records</h1><p>Trained tokens are highlighted. Data version {version}. "
            f"Marks are {where}.</p>"
            + "".join(cards) + f'<button id="save" onclick="save()">Save marks</button> <span id="status"></span>'
            f'<textarea id="out" readonly></textarea><script>const META={meta};{PAGE_JS}</script>')
