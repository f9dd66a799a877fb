"""Build: turn curated conversations into training records (TRL SFT examples, DPO pairs).

`pipeline.build` routes each assistant reply by its feedback; `replies` finds the replies and the
history they answered; `sft` and `preference` shape the records (records.SFT_EXAMPLE,
records.PREFERENCE_PAIR). KTO examples, tool trajectories and QA records are later rules.
"""

from logtune.build.pipeline import BuildParams, Built, build

__all__ = ["BuildParams", "Built", "build"]
