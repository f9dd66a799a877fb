"""An HTML review page of the golden-set results: baseline and candidate replies side by side, per case.

One self-contained file (inline CSS and JS, no CDN, no fonts or images fetched), so it opens offline
from a CI artifact or a laptop. Rows are rendered here, in Python, so the page reads even with
JavaScript off; the inline script only hides rows that do not match the filters (tag, flip: fixed /
broken / same, and a text search). Filters are mirrored in the URL hash (`#tag=refusal&flip=broken`),
so a filtered view can be linked, and a test can load one in headless Chromium and read the DOM.
Not for deciding anything: that is `logtune.gate.decide`, whose decision and deltas the page header shows.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from logtune.scores import loads_scores
from logtune.gate.decide import paired_cases

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
h1{font-size:20px;margin:0 0 .3em} .muted{color:#666} .promote{color:#0a7d32} .reject{color:#b3261e}
table{border-collapse:collapse;width:100%;margin:.6em 0 1.2em} th,td{border:1px solid #ddd;padding:4px 6px;
vertical-align:top;text-align:left} th{background:#f4f4f6;position:sticky;top:0} td.reply{width:36%;
white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
tr.fixed td.flip{background:#dff5e3} tr.broken td.flip{background:#fbe1de} .pass{color:#0a7d32;font-weight:600}
.fail{color:#b3261e;font-weight:600} .tag{display:inline-block;background:#eef;border-radius:3px;padding:0 4px;
margin:1px;font-size:12px} #filters{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:.5em 0}
tr[hidden]{display:none} .regressed{background:#fbe1de} .noise{background:#fff4d6}
"""

_JS = """
(function(){
  var tagSel=document.getElementById('f-tag'), flipSel=document.getElementById('f-flip'),
      q=document.getElementById('f-q'), count=document.getElementById('count'),
      rows=Array.prototype.slice.call(document.querySelectorAll('#cases tbody tr'));
  function fromHash(){
    var h=decodeURIComponent(location.hash.replace(/^#/,'')), parts=h?h.split('&'):[];
    parts.forEach(function(kv){var i=kv.indexOf('='), k=kv.slice(0,i), v=kv.slice(i+1);
      if(k==='tag')tagSel.value=v; if(k==='flip')flipSel.value=v; if(k==='q')q.value=v;});
  }
  function apply(){
    var tag=tagSel.value, flip=flipSel.value, text=q.value.toLowerCase(), shown=0;
    rows.forEach(function(r){
      var ok=(!tag||(' '+r.getAttribute('data-tags')+' ').indexOf(' '+tag+' ')>=0)
        &&(!flip||r.getAttribute('data-flip')===flip)
        &&(!text||r.textContent.toLowerCase().indexOf(text)>=0);
      if(ok){r.removeAttribute('hidden');shown++;}else{r.setAttribute('hidden','');}
    });
    count.textContent=shown+' of '+rows.length+' cases';
    document.body.setAttribute('data-shown',String(shown));
  }
  function toHash(){
    var parts=[]; if(tagSel.value)parts.push('tag='+tagSel.value);
    if(flipSel.value)parts.push('flip='+flipSel.value); if(q.value)parts.push('q='+q.value);
    history.replaceState(null,'','#'+parts.join('&')); apply();
  }
  [tagSel,flipSel].forEach(function(el){el.addEventListener('change',toHash);});
  q.addEventListener('input',toHash);
  window.addEventListener('hashchange',function(){fromHash();apply();});
  fromHash(); apply();
})();
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any) -> str:
    return "" if value is None else (f"{value:+.4f}" if isinstance(value, float) else _e(value))


def _metrics_table(gate: dict[str, Any]) -> str:
    level = gate.get("bootstrap", {}).get("confidence", 0.95)
    head = (f"<tr><th>metric</th><th>baseline</th><th>candidate</th><th>delta</th><th>{level:.0%} interval</th>"
            "<th>tolerance</th><th>status</th></tr>")
    body = []
    for metric, m in sorted(gate.get("metrics", {}).items()):
        interval = "" if m.get("ci_low") is None else f"{m['ci_low']:+.4f} .. {m['ci_high']:+.4f}"
        base = "" if m.get("baseline") is None else f"{m['baseline']:.4f}"
        cand = "" if m.get("candidate") is None else f"{m['candidate']:.4f}"
        body.append(f"<tr class='{_e(m.get('status'))}'><td>{_e(metric)}</td><td>{base}</td><td>{cand}</td>"
                    f"<td>{_num(m.get('delta'))}</td><td>{interval}</td><td>{_e(m.get('tolerance'))}</td>"
                    f"<td>{_e(m.get('status'))}</td></tr>")
    not_gated = "".join(f"<li><b>{_e(m)}</b>: {_e(why)}</li>" for m, why in sorted((gate.get("not_gated") or {}).items()))
    return (f"<table id='metrics'>{head}{''.join(body)}</table>"
            + (f"<p>Not gated (reported, never a reason to reject):</p><ul id='not-gated'>{not_gated}</ul>"
               if not_gated else ""))


def _changed_scores(base: dict[str, Any], cand: dict[str, Any]) -> str:
    keys = sorted(k for k in set(base) | set(cand) if base.get(k) != cand.get(k) and k != "reply_words")
    shown = lambda v: "n/a" if v is None else f"{v:g}"   # noqa: E731 (null: the metric does not apply)
    return ", ".join(f"{k}: {shown(base.get(k))} → {shown(cand.get(k))}" for k in keys)


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _agreement_text(label: str, a: dict[str, Any] | None) -> str:
    if not a or a.get("agreement") is None:
        return f"{label}: none"
    low, high = a.get("interval") or (None, None)
    n = f" ({a['n']} labels)" if a.get("n") is not None else ""
    return f"{label}{n}: {_share(a['agreement'])} [{_share(low)}, {_share(high)}] vs chance {_share(a.get('chance'))}"


def _judge_line(judge: dict[str, Any] | None) -> str:
    """The judge beside the rule metrics (never deciding): how far it agrees with people, and whether it is trusted."""
    if not judge:
        return ""
    verdict = ("<b class='pass'>trusted</b>" if judge.get("trusted") else
               f"<b class='fail'>NOT trusted</b> ({_e(judge.get('untrusted_because'))}): its numbers are shown, not relied on")
    thumbs = {k: judge.get(k) for k in ("n", "agreement", "interval", "chance")}
    return (f"<p id='judge'>Judge {_e(judge.get('judge'))}: {verdict}. Candidate win rate "
            f"{_share(judge.get('candidate_win_rate'))}. Agreement {_e(_agreement_text('with logged thumbs', thumbs))}; "
            f"{_e(_agreement_text('with review marks', judge.get('agreement_review')))}.</p>")


def render_review(rows: list[dict[str, Any]], gate: dict[str, Any], title: str = "logtune golden-set review") -> str:
    """The page's HTML: gate summary, metric deltas, then one row per case scored for both models."""
    candidate, baseline = gate["candidate"], gate["baseline"]
    paired = paired_cases(rows, candidate, baseline)
    replies = {(r["model"], r["case_id"]): r for r in rows}
    fixed, broken = set(gate["flips"]["fixed"]), set(gate["flips"]["broken"])
    all_tags = sorted({t for tags in paired.tags for t in tags})
    body = []
    for i, case_id in enumerate(paired.case_ids):
        flip = "fixed" if case_id in fixed else "broken" if case_id in broken else "same"
        b, c = replies[(baseline, case_id)], replies[(candidate, case_id)]
        tags = paired.tags[i]

        def verdict(ok: bool) -> str:
            return "<span class='pass'>pass</span>" if ok else "<span class='fail'>fail</span>"
        body.append(
            f"<tr id='case-{_e(case_id)}' class='{flip}' data-flip='{flip}' data-tags='{_e(' '.join(tags))}'>"
            f"<td>{_e(case_id)}</td><td>{_e(b.get('case_type') or '')}</td>"
            f"<td>{''.join(f'<span class=tag>{_e(t)}</span>' for t in tags)}</td>"
            f"<td class='flip'>{flip}</td>"
            f"<td>{verdict(paired.passed_baseline[i])}</td><td class='reply'>{_e(b.get('reply'))}</td>"
            f"<td>{verdict(paired.passed_candidate[i])}</td><td class='reply'>{_e(c.get('reply'))}</td>"
            f"<td class='muted'>{_e(_changed_scores(loads_scores(b.get('scores')), loads_scores(c.get('scores'))))}"
            f"</td></tr>")
    options = "".join(f"<option value='{_e(t)}'>{_e(t)}</option>" for t in all_tags)
    decision = gate["decision"]
    reasons = "".join(f"<li>{_e(r)}</li>" for r in gate.get("reasons", []))
    notes = "".join(f"<li class='muted'>{_e(r)}</li>" for r in gate.get("notes", []) + gate.get("warnings", []))
    summary = json.dumps({"decision": decision, "n_fixed": gate["flips"]["n_fixed"],
                          "n_broken": gate["flips"]["n_broken"]}, sort_keys=True)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body data-summary='{_e(summary)}'>
<h1>{_e(title)}</h1>
<p>Candidate <b>{_e(candidate)}</b> vs baseline <b>{_e(baseline)}</b> on {len(paired.case_ids)} cases:
<b class="{_e(decision)}">{_e(decision)}</b> (rule {_e(gate.get('rule'))}).
{gate['flips']['n_fixed']} fixed, {gate['flips']['n_broken']} broken, {gate['flips'].get('n_same', '')} unchanged.</p>
<ul>{reasons}{notes}</ul>
{_judge_line(gate.get("judge"))}
{_metrics_table(gate)}
<div id="filters">
<label>tag <select id="f-tag"><option value="">all</option>{options}</select></label>
<label>flip <select id="f-flip"><option value="">all</option><option value="fixed">fixed</option>
<option value="broken">broken</option><option value="same">same</option></select></label>
<label>search <input id="f-q" type="search" placeholder="text in the row"></label>
<span id="count" class="muted">{len(paired.case_ids)} cases</span>
</div>
<table id="cases"><thead><tr><th>case</th><th>type</th><th>tags</th><th>flip</th>
<th>{_e(baseline)}</th><th>{_e(baseline)} reply</th><th>{_e(candidate)}</th><th>{_e(candidate)} reply</th>
<th>scores that changed</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script>{_JS}</script>
</body></html>
"""


def write_review(path: str | Path, rows: list[dict[str, Any]], gate: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_review(rows, gate), encoding="utf-8")
    return path


def command(args) -> int:
    """Write the HTML review page of the golden-set results (baseline vs candidate replies, filters), offline."""
    import sys

    from logtune.io import read_json, read_rows

    if not Path(args.results).is_file():
        print(f"logtune review: error: {args.results}: no such file (run `dvc repro evaluate`)", file=sys.stderr)
        return 2
    rows = read_rows(args.results)
    if Path(args.gate).is_file():
        gate = read_json(args.gate)
    else:   # no gate run yet: judge with the params' gate section, so the page still has its header
        from logtune.gate.decide import GateParams, decide
        from logtune.params import load_params
        gate = decide(rows, load_params(args.params, "gate", GateParams))
    path = write_review(args.out, rows, gate)
    print(f"logtune review: wrote {path} ({gate['n_cases']} cases, {gate['flips']['n_broken']} broken, "
          f"{gate['flips']['n_fixed']} fixed)")
    return 0


ARGS = (
    (("--results",), dict(type=Path, default=Path("data/eval/results.parquet"), help="per-case results Parquet")),
    (("--gate",), dict(type=Path, default=Path("metrics/gate.json"),
                       help="the gate's decision (default metrics/gate.json; absent: judged here with --params)")),
    (("--params",), dict(type=Path, default=Path("params.yaml"))),
    (("--out",), dict(type=Path, default=Path("data/gate/review.html"), help="the HTML file to write")),
)
