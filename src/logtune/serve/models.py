"""Request bodies of the service, in seed 003's JSON shapes (camelCase, as its API sends them).

Strict: an unknown field, a value of the wrong type (no "0.5" for a number, no `true` for a number), an
over-long text or list is a 422 that names the field (`app.validation_error`). Limits are per field; the
whole body is capped before parsing (params `serve.max_body_bytes`). Not for storage: `logs.py` turns a
validated body into a store row.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TEXT = 100_000        # prompt, speech, rewrite, error: a long chat reply is ~10k chars; 10x headroom
MAX_NOTE = 10_000         # a user's feedback note
MAX_LABEL = 256           # ids, model names, versions, session ids
MAX_ITEMS = 256           # intents, auto-rules, task types
MAX_SIMULATE = 10_000     # logs in one /api/simulate call
NAME = r"^[A-Za-z0-9_.:@/-]+$"  # task types, stage targets, params keys: no spaces or shell metacharacters

Label = Field(default=None, max_length=MAX_LABEL)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AceyOutput(Strict):
    speech: str | None = Field(default=None, max_length=MAX_TEXT)
    intents: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)


class LogRequest(Strict):
    """POST /api/log: one LLM call (seed 003)."""
    id: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL, pattern=NAME)
    taskType: str = Field(min_length=1, max_length=64, pattern=NAME)
    llmPrompt: str = Field(max_length=MAX_TEXT)
    aceyOutput: AceyOutput
    systemPrompt: str | None = Field(default=None, max_length=MAX_TEXT)
    confidence: float | None = Field(default=None, ge=0, le=1)
    status: Literal["approved", "rejected", "pending"] | None = None
    responseTime: float | None = Field(default=None, ge=0, le=86_400_000)  # ms
    cost: float | None = Field(default=None, ge=0)
    model: str | None = Label
    promptVersion: str | None = Label
    sessionId: str | None = Label
    timestamp: str | None = Field(default=None, max_length=64)
    autoRules: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    context: dict[str, Any] | None = None
    error: str | None = Field(default=None, max_length=MAX_TEXT)


class FeedbackRequest(Strict):
    """POST /api/feedback: thumbs, a note and/or a human rewrite for a logged call (or one of its messages)."""
    logId: str = Field(min_length=1, max_length=MAX_LABEL)
    messageIndex: int | None = Field(default=None, ge=0, le=10_000)  # proxy calls: which turn (default: the reply)
    thumbs: Literal["up", "down"] | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    rewrite: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _something(self) -> "FeedbackRequest":
        if self.thumbs is None and self.note is None and self.rewrite is None:
            raise ValueError("feedback needs at least one of thumbs, note, rewrite")
        return self


class DryrunRequest(Strict):
    """POST /api/dryrun: one output through the live auto-rules."""
    aceyOutput: AceyOutput
    taskType: str | None = Field(default=None, max_length=64, pattern=NAME)
    confidence: float | None = Field(default=None, ge=0, le=1)
    status: Literal["approved", "rejected", "pending"] | None = None


class SimulateConfig(Strict):
    dryRun: bool = True
    autoRules: bool = True


class SimulateRequest(Strict):
    """POST /api/simulate: many logged outputs (seed 003 log shapes) through the auto-rules."""
    logs: list[dict[str, Any]] = Field(max_length=MAX_SIMULATE)
    config: SimulateConfig = Field(default_factory=SimulateConfig)


ParamValue = str | int | float | bool | None | list[str | int | float | bool]


class WorkflowConfig(Strict):
    """seed 003's workflow config, plus how logtune runs it (`mode`, `targets`, `params`)."""
    collectLogs: bool = True
    prepareDatasets: bool = True
    runSimulations: bool = True
    enableFineTuning: bool = False          # false: run the data stages only (up to `mix`)
    gradualDeployment: bool = True
    monitorMetrics: bool = True
    taskTypes: list[str] | None = Field(default=None, max_length=MAX_ITEMS)
    deploymentStages: list[str] | None = Field(default=None, max_length=MAX_ITEMS)
    mode: Literal["repro", "exp"] | None = None   # default: exp when params are set, else repro
    targets: list[str] | None = Field(default=None, max_length=16)
    params: dict[str, ParamValue] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _names(self) -> "WorkflowConfig":
        import re
        for field, values in (("taskTypes", self.taskTypes), ("deploymentStages", self.deploymentStages),
                              ("targets", self.targets), ("params", list(self.params or {}))):
            for v in values or []:
                if not re.fullmatch(NAME[1:-1], v) or len(v) > 128:
                    raise ValueError(f"{field}: {v!r} is not a plain name ([A-Za-z0-9_.:@/-], at most 128 chars)")
        return self


class WorkflowStart(Strict):
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)


class DatasetPrepare(Strict):
    """POST /api/dataset/prepare: seed 003's filters, run through curate's params on the store."""
    taskTypes: list[str] | None = Field(default=None, max_length=MAX_ITEMS)
    minConfidence: float | None = Field(default=None, ge=0, le=1)
    excludeRejected: bool = True
    target: str = Field(default="mix", max_length=128, pattern=NAME)


class ReviewMark(Strict):
    """One mark of the review queue, in `logtune.reviews`' format (its rules checked by `reviews.check_marks`)."""
    id: str = Field(min_length=1, max_length=MAX_LABEL)
    set: Literal["sft", "preference", "kto"]
    mark: Literal["keep", "reject", "fix"]
    reason: str | None = Field(default=None, max_length=MAX_NOTE)
    fix: str | None = Field(default=None, max_length=MAX_TEXT)
    reviewed_at: str | None = Field(default=None, max_length=32)
    data_version: str = Field(min_length=1, max_length=64)


class ReviewMarks(Strict):
    """POST /api/review/marks: the review page's marks, saved as reviews/<date>.jsonl."""
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    marks: list[ReviewMark] = Field(min_length=1, max_length=MAX_SIMULATE)
