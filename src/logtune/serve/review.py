"""The review queue in `logtune serve` (issue #17, seed 004): the review page and its marks over HTTP.

GET /review renders the page `logtune review-data` writes (`logtune.review.data`: a seeded, stratified
sample of the mixed training records in `<repo>/data/train`, SFT records through `<repo>/models/base`'s
chat template when that folder exists), with Save posting to POST /api/review/marks instead of
downloading a file. The service writes `<repo>/reviews/<date>.jsonl` in `logtune.reviews`' format, the
file mix applies and `validate.review` gates; commit it like any other review. A mark for data that is
no longer current (another `data_version`: the data was re-mixed since the page was drawn) is refused,
so a stale page cannot review data it never showed. Marks saved twice on one date merge: a record's
later mark replaces its earlier one, the others stay (two reviewers, or one saving as they go).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from logtune.io import atomic_open
from logtune.review.data import current_version, draw, load_sets, load_tokenizer, page
from logtune.reviews import check_marks, marks_json, read_marks

SAVE_URL = "/api/review/marks"


class NoData(LookupError):
    """No mixed training records to review."""


class StaleMarks(ValueError):
    """Marks for another version of the data than the one in data/train now."""


class ReviewQueue:
    def __init__(self, repo: str | Path):
        repo = Path(repo)
        self.train, self.reviews, self.model = repo / "data" / "train", repo / "reviews", repo / "models" / "base"
        self._lock = threading.Lock()
        self._tokenizer: Any = None

    def tokenizer(self) -> Any:
        if self._tokenizer is None and (self.model / "tokenizer_config.json").is_file():
            self._tokenizer = load_tokenizer(self.model)
        return self._tokenizer

    def page(self, n: int, seed: int, date: str | None = None) -> str:
        sets = load_sets(self.train)
        if not any(sets.values()):
            raise NoData(f"no training records in {self.train}: run `dvc repro mix` first")
        date = date or dt.date.today().isoformat()
        return page(draw(sets, n, seed), current_version(self.train, sets), date, self.tokenizer(), save_url=SAVE_URL)

    def save(self, date: str, marks: list[dict[str, Any]]) -> dict[str, Any]:
        """Check the marks, merge them into reviews/<date>.jsonl (atomically), say what the file holds now."""
        dt.date.fromisoformat(date)                  # a real date (the model's pattern keeps it a bare file name)
        check_marks(marks, SAVE_URL)
        version = current_version(self.train, load_sets(self.train))
        stale = sorted({m["data_version"] for m in marks} - {version})
        if stale:
            raise StaleMarks(f"marks for data version {', '.join(stale)}, but data/train is now {version}: "
                             "reload the review page")
        path = self.reviews / f"{date}.jsonl"
        with self._lock:
            merged = {(m["set"], m["id"]): m for m in (read_marks(path) if path.is_file() else [])}
            merged.update({(m["set"], m["id"]): {**m, "reviewed_at": m.get("reviewed_at") or date} for m in marks})
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path) as f:
                f.write(marks_json(list(merged.values())))
        return {"file": f"reviews/{path.name}", "marks": len(merged), "received": len(marks),
                "rejected": sum(m["mark"] == "reject" for m in merged.values()), "data_version": version}
