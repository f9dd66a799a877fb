"""Persona and voice (seed 002's voice rules): does the reply sound right for this user?

Scored on cases that name the user's persona (`expected.persona`, one of `golden.PERSONAS`), None on
the others. `persona_score` is the share of these four checks the reply passes (0, .25, ... 1):
1. emoji: at most one emoji, and none unless the user is `casual` ("one max, and only if user is casual");
2. not robotic: none of ROBOTIC_PHRASES ("I will now execute the following command", "as an AI", ...);
3. not over-apologising: no apology (APOLOGY) at all on an answerable case ("I'm sorry, I cannot...");
   a must-refuse case may apologise once;
4. register matches the persona (REGISTER rules):
   - casual: no formal markers (FORMAL: "Dear", "Kindly", "Please be advised", "Regards", ...);
   - stressed_oncall: urgent: at most 30 words and no filler opening (FILLER: "Great question",
     "Thanks for reaching out", "I hope", ...), since a stressed user needs the fact first;
   - executive: a TL;DR: at most 30 words and no filler opening;
   - senior_engineer: terse: at most 40 words and no filler opening;
   - curious_learner: explains: at least 8 words.
Emoji are counted as characters in the Unicode emoji blocks (pictographs, symbols, dingbats, flags).
`voice_problems` lists what failed, for the per-case results. Not for length or preambles in general
(`style`), which apply to every case.
"""

from __future__ import annotations

import re

_EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F1E6-\U0001F1FF\U0001F900-\U0001F9FF]")
ROBOTIC_PHRASES = [
    r"\bI will now (?:execute|perform|proceed|run)\b", r"\bexecuting the following\b", r"\bas an AI\b",
    r"\bI am an AI\b", r"\blanguage model\b", r"\bprocessing (?:your )?request\b",
    r"\bthe requested information is as follows\b", r"\bplease be advised\b", r"\bbeep\b",
]
APOLOGY = [r"\bI'?m sorry\b", r"\bI am sorry\b", r"\bsorry\b", r"\bI apologi[sz]e\b", r"\bmy apologies\b",
           r"\bapologies\b"]
FORMAL = [r"^\s*dear\b", r"\bkindly\b", r"\bplease be advised\b", r"\b(?:best |kind )?regards\b",
          r"\bI would like to inform you\b", r"\bhereby\b"]
FILLER = [r"^\s*(?:great|good|excellent) question\b", r"^\s*thanks? (?:you )?for (?:reaching out|asking|your question)\b",
          r"^\s*I hope\b", r"^\s*happy to help\b", r"^\s*(?:certainly|absolutely|of course)[!,.]"]
REGISTER = {  # persona -> (min words, max words, no filler opening, no formal markers)
    "casual": (None, None, False, True),
    "stressed_oncall": (None, 30, True, False),
    "executive": (None, 30, True, False),
    "senior_engineer": (None, 40, True, False),
    "curious_learner": (8, None, False, False),
}


def emoji_count(text: str | None) -> int:
    return len(_EMOJI.findall(text or ""))


def _any(patterns: list[str], text: str) -> bool:
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)


def apology_count(text: str | None) -> int:
    # "I'm sorry" also matches bare "sorry": count non-overlapping apology spans once each
    spans = {m.start() for p in APOLOGY for m in re.finditer(p, text or "", re.IGNORECASE)}
    merged = [s for s in sorted(spans) if not any(0 < s - t < 6 for t in spans)]
    return len(merged)


def voice_problems(reply: str | None, persona: str, must_refuse: bool = False) -> list[str]:
    """The voice rules (module docstring) the reply breaks for a user of `persona`."""
    text = reply or ""
    problems = []
    n_emoji = emoji_count(text)
    if n_emoji > 1 or (n_emoji and persona != "casual"):
        problems.append(f"emoji: {n_emoji} for a {persona} user")
    if _any(ROBOTIC_PHRASES, text):
        problems.append("robotic phrase")
    apologies = apology_count(text)
    if apologies > (1 if must_refuse else 0):
        problems.append(f"over-apologising: {apologies} apolog{'y' if apologies == 1 else 'ies'}")
    lo, hi, no_filler, no_formal = REGISTER[persona]
    words = len(text.split())
    if (lo is not None and words < lo) or (hi is not None and words > hi) or \
            (no_filler and _any(FILLER, text)) or (no_formal and _any(FORMAL, text)):
        problems.append(f"register: does not match a {persona} user ({words} words)")
    return problems


def persona_scores(case, reply: str | None) -> dict[str, float | None]:
    if case.persona is None:
        return {"persona_score": None}
    return {"persona_score": 1.0 - len(voice_problems(reply, case.persona, case.must_refuse)) / 4}
