"""Auto-rules (seed 003): deterministic keep/reject rules over a logged record's fields, from a YAML file.

One engine for live filtering (curate) and for simulation (evaluation's dry-run), so the two agree:
both load the same file with `load_rules` and call `Rules.decide(record)`.

A rules file is a list of rules, tried in order; the first rule whose conditions ALL hold decides,
and a record no rule matches is kept:

    rules:
      - name: echoed_system_prompt        # becomes the reject reason `auto_rule:echoed_system_prompt`
        action: reject                    # reject | keep (keep: stop here, later rules do not apply)
        when:
          output_matches: '(?i)you are the .* assistant'

Conditions (`when`), each over one field of a records.CONVERSATION row (or a flat logged call with
`output`/`speech`, `intents`, `confidence`, `task_type`, `approval` fields, which is how a dry-run
may hold them):
  output_matches / output_not_matches   regex searched in the output: the last assistant message's text
  intent_confidence_below: 0.4          some intent's confidence is below this (intents: the last
                                        assistant message's tool_calls JSON, as event_log writes them)
  confidence_below: 0.5                 the call's own confidence is below this (absent: does not hold)
  task_type_in / task_type_not_in       the record's task type is (not) one of a list
  approval_in: [rejected, pending]      the approval status is one of a list (null is written `null`)
Not for PII or duplicates (curate's own steps) and not a scripting language: anything a rule
needs beyond these is a new condition kind here, with a test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

ACTIONS = ("keep", "reject")
REASON_PREFIX = "auto_rule:"


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the rule."""


def output_text(record: dict[str, Any]) -> str:
    """The record's output: the last assistant message's text, or a flat call's `speech`/`output`."""
    messages = record.get("messages")
    if messages is not None:
        for m in reversed(messages):
            if m.get("role") == "assistant":
                return m.get("content") or ""
        return ""
    out = record.get("output")
    if isinstance(out, dict):
        return out.get("speech") or ""
    return record.get("speech") or (out if isinstance(out, str) else "") or ""


def intents(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The intents of the record's output (event_log keeps them as the last assistant turn's tool_calls)."""
    if "intents" in record:
        found = record.get("intents")
    elif isinstance(record.get("output"), dict):
        found = record["output"].get("intents")
    else:
        found = None
        for m in reversed(record.get("messages") or []):
            if m.get("role") == "assistant":
                try:
                    found = json.loads(m.get("tool_calls") or "null")
                except ValueError:
                    found = None
                break
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def _min_intent_confidence(record: dict[str, Any]) -> float | None:
    values = [i["confidence"] for i in intents(record) if isinstance(i.get("confidence"), (int, float))]
    return min(values) if values else None


class Facts:
    """One record's fields as the conditions read them, each worked out once per `decide`."""

    __slots__ = ("record", "_output", "_intent_confidence")

    def __init__(self, record: dict[str, Any]):
        self.record = record
        self._output: str | None = None
        self._intent_confidence: Any = ...

    def get(self, key: str) -> Any:
        return self.record.get(key)

    @property
    def output(self) -> str:
        if self._output is None:
            self._output = output_text(self.record)
        return self._output

    @property
    def intent_confidence(self) -> float | None:
        if self._intent_confidence is ...:
            self._intent_confidence = _min_intent_confidence(self.record)
        return self._intent_confidence


Condition = Callable[[Facts], bool]


def _condition(kind: str, value: Any, where: str) -> Condition:
    """One compiled condition; a wrong kind or value is a RulesError naming `where`."""
    if kind in ("output_matches", "output_not_matches"):
        if not isinstance(value, str):
            raise RulesError(f"{where}: {kind} must be a regex string")
        try:
            pattern = re.compile(value)
        except re.error as e:
            raise RulesError(f"{where}: {kind} is not a valid regex ({e})") from None
        if kind == "output_matches":
            return lambda f: pattern.search(f.output) is not None
        return lambda f: pattern.search(f.output) is None
    if kind in ("intent_confidence_below", "confidence_below"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RulesError(f"{where}: {kind} must be a number")
        if kind == "confidence_below":
            return lambda f: f.get("confidence") is not None and f.get("confidence") < value

        def below(f: Facts) -> bool:
            lowest = f.intent_confidence
            return lowest is not None and lowest < value
        return below
    if kind in ("task_type_in", "task_type_not_in", "approval_in"):
        if not isinstance(value, list):
            raise RulesError(f"{where}: {kind} must be a list")
        allowed = frozenset(value)
        if kind == "task_type_in":
            return lambda f: f.get("task_type") in allowed
        if kind == "task_type_not_in":
            return lambda f: f.get("task_type") not in allowed
        return lambda f: f.get("approval") in allowed
    raise RulesError(f"{where}: unknown condition {kind!r} (known: {', '.join(CONDITIONS)})")


CONDITIONS = ("output_matches", "output_not_matches", "intent_confidence_below", "confidence_below",
              "task_type_in", "task_type_not_in", "approval_in")


@dataclass(frozen=True)
class Rule:
    name: str
    action: str
    conditions: tuple[Condition, ...] = field(repr=False)

    def matches(self, record: dict[str, Any] | Facts) -> bool:
        facts = record if isinstance(record, Facts) else Facts(record)
        return all(check(facts) for check in self.conditions)


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...] = ()

    def decide(self, record: dict[str, Any]) -> tuple[bool, str | None]:
        """(keep, name of the deciding rule); (True, None) when no rule matches."""
        facts = Facts(record)
        for rule in self.rules:
            if rule.matches(facts):
                return rule.action == "keep", rule.name
        return True, None

    @property
    def reject_reasons(self) -> list[str]:
        """`auto_rule:<name>` of every reject rule, so metrics can list each one, zeros included."""
        return [REASON_PREFIX + r.name for r in self.rules if r.action == "reject"]


def parse_rules(data: Any, where: str = "rules") -> Rules:
    """Rules from the parsed YAML (`{"rules": [...]}`); every mistake is a RulesError naming the rule."""
    if data is None:
        return Rules()
    if not isinstance(data, dict) or set(data) - {"rules"}:
        raise RulesError(f"{where}: expected a mapping with one key `rules`")
    items = data.get("rules") or []
    if not isinstance(items, list):
        raise RulesError(f"{where}: `rules` must be a list")
    rules, names = [], set()
    for n, item in enumerate(items, start=1):
        at = f"{where}: rule {n}"
        if not isinstance(item, dict) or set(item) - {"name", "action", "when"}:
            raise RulesError(f"{at}: a rule has exactly `name`, `action` and `when`")
        name = item.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise RulesError(f"{at}: name must be a word ([A-Za-z0-9_.-]), got {name!r}")
        at = f"{where}: rule {name!r}"
        if name in names:
            raise RulesError(f"{at}: defined twice")
        names.add(name)
        if item.get("action") not in ACTIONS:
            raise RulesError(f"{at}: action must be one of {ACTIONS}, got {item.get('action')!r}")
        when = item.get("when")
        if not isinstance(when, dict) or not when:
            raise RulesError(f"{at}: `when` must be a non-empty mapping of conditions")
        conditions = tuple(_condition(k, v, at) for k, v in when.items())
        rules.append(Rule(name, item["action"], conditions))
    return Rules(tuple(rules))


def load_rules(path: str | Path | None) -> Rules:
    """The rules in a YAML file; None (no file configured) gives no rules, so everything is kept."""
    if path is None:
        return Rules()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RulesError(f"{path}: not valid YAML ({e})") from None
    return parse_rules(data, str(path))


def decide(record: dict[str, Any], rules: Rules) -> tuple[bool, str | None]:
    """(keep, rule name or None): `rules.decide(record)`, as a plain function."""
    return rules.decide(record)
