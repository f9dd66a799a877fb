"""Build: turn curated conversations into training records (SFT examples, DPO pairs, KTO examples).

`pipeline.build` routes each assistant reply by what its feedback carries (rewrite, correction,
logged rejected reply, sibling ranks, thumbs, none); `replies` finds the replies and the dialogue
they answered; `targets` renders assistant turns (canonical tool calls via `logtune.toolcalls`);
`kinds` names each record's type and curriculum phase; `extractive` makes seed 001's span answers
and refusals; `sft`, `preference` and `kto` shape the records (records.SFT_EXAMPLE,
records.PREFERENCE_PAIR, records.KTO_EXAMPLE).
"""

from logtune.build.pipeline import BuildParams, Built, build, build_files

__all__ = ["BuildParams", "Built", "build", "build_files"]
