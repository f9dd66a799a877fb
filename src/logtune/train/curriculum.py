"""SFT curriculum (seed 001): which examples each training phase gets, and in which order.

`sft.curriculum` in params.yaml:

    mode: phased            # phased: one SFTTrainer run per phase, in the listed order, the same adapter
                            #   carried from one phase to the next; mixed: one run over all of them shuffled
    phases: [extractive, conversational, refusals]
    unlisted: other         # examples whose `phase` is not listed (or null): other = trained in a final
                            #   phase named `other`; reject = not trained. Counted either way.
    replay: 0.0             # phased: each later phase also rehearses this share of the earlier phases'
                            #   examples (a seeded sample), so learning refusals last does not erase answering

Without replay a phased run forgets: measured on the embedded default, conversational then refusals
left a model that refused 94% of the golden cases it had to refuse but also most it could answer
(refusal precision 0.22). Replayed rows are counted per phase (`replayed`), never as new examples.

Seed 001's order is the point: find the answer (extractive) before phrasing it (conversational), and
learn refusals last. `mixed` trains exactly the same examples in one shuffled run, as the comparison.
This module only splits and orders rows; training is logtune.train.sft.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from logtune.params import ParamsError, check_keys

MODES = ("phased", "mixed")
UNLISTED = ("other", "reject")
OTHER = "other"  # the phase name unlisted examples are trained under (unlisted: other)
MIXED = "mixed"  # the one "phase" of a mixed run


@dataclass(frozen=True)
class Curriculum:
    mode: str = "phased"
    phases: tuple[str, ...] = ("extractive", "conversational", "refusals")
    unlisted: str = "other"
    replay: float = 0.0


def curriculum_params(section: dict[str, Any] | None) -> Curriculum:
    """`sft.curriculum` -> Curriculum; an unknown key or value is a ParamsError naming it."""
    if section is None:
        return Curriculum()
    if not isinstance(section, dict):
        raise ParamsError(f"params section 'sft.curriculum': expected a mapping, got {type(section).__name__}")
    check_keys("sft.curriculum", section, {"mode", "phases", "unlisted", "replay"})
    c = Curriculum(**{k: tuple(v) if k == "phases" else v for k, v in section.items()})
    if c.mode not in MODES:
        raise ParamsError(f"params section 'sft.curriculum.mode': expected phased or mixed, got {c.mode!r}")
    if c.unlisted not in UNLISTED:
        raise ParamsError(f"params section 'sft.curriculum.unlisted': expected other or reject, got {c.unlisted!r}")
    if not c.phases or len(set(c.phases)) != len(c.phases) or not all(isinstance(p, str) for p in c.phases):
        raise ParamsError(f"params section 'sft.curriculum.phases': expected distinct phase names, got {list(c.phases)}")
    if not isinstance(c.replay, (int, float)) or not 0 <= c.replay <= 1:
        raise ParamsError(f"params section 'sft.curriculum.replay': expected a share in [0, 1], got {c.replay!r}")
    if c.unlisted == "other" and OTHER in c.phases:
        raise ParamsError("params section 'sft.curriculum.phases': 'other' is reserved for unlisted examples")
    return c


@dataclass(frozen=True)
class Plan:
    """The runs to make, in order: (phase name, its rows); empty listed phases are kept so they are reported."""

    runs: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]
    examples: int                     # rows read
    by_phase: dict[str, int]          # rows read per `phase` value ("null" for none)
    rejected: dict[str, int]          # reason -> rows not trained
    replayed: dict[str, int] = None   # phase -> rows of earlier phases rehearsed in it (already in its run)


def plan(rows: list[dict[str, Any]], c: Curriculum, seed: int = 0) -> Plan:
    """Split `rows` by their `phase` column into the curriculum's runs.

    Every row is either in exactly one run or counted in `rejected` (reason `phase_not_listed`).
    Within a phase rows keep their input order (the Trainer's sampler shuffles them, seeded); a mixed
    run is shuffled here with `seed` too, so its order does not depend on how the input was sorted.
    """
    by_phase = Counter(str(r.get("phase")) if r.get("phase") is not None else "null" for r in rows)
    listed = {p: [] for p in c.phases}
    unlisted: list[dict[str, Any]] = []
    for r in rows:
        (listed[r["phase"]] if r.get("phase") in listed else unlisted).append(r)
    rejected = {"phase_not_listed": len(unlisted)} if c.unlisted == "reject" and unlisted else {}
    runs = [(p, tuple(listed[p])) for p in c.phases]
    if c.unlisted == "other" and unlisted:
        runs.append((OTHER, tuple(unlisted)))
    replayed: dict[str, int] = {}
    if c.mode == MIXED:
        kept = [r for _, phase_rows in runs for r in phase_rows]
        random.Random(seed).shuffle(kept)
        runs = [(MIXED, tuple(kept))]
    elif c.replay:
        rng = random.Random(seed)
        earlier: list[dict[str, Any]] = []
        with_replay = []
        for name, phase_rows in runs:
            n = round(c.replay * len(earlier)) if phase_rows else 0
            extra = rng.sample(earlier, n) if n else []
            replayed[name] = n
            with_replay.append((name, tuple(phase_rows) + tuple(extra)))
            earlier += phase_rows
        runs = with_replay
    return Plan(runs=tuple(runs), examples=len(rows), by_phase=dict(sorted(by_phase.items())), rejected=rejected,
                replayed={k: v for k, v in replayed.items() if v})
