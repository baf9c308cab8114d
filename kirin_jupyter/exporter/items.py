"""What an export holds: one ``Item`` per saved file, from this session's jobs or from
journal rows, and the flat record each format writes (manifest entry, CSV row, sheet card).

Only what the journal and a Result already keep goes in: the request is kept with
reference images named by hash (``GenerationRequest.summary``), and the API key is never
part of either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.request import NOT_OPTIONS
from ..storage.journal import safe_dirname
from ..storage.shared_results import fetched, local_paths

if TYPE_CHECKING:
    from ..engine.job import Job, Result

# The columns of manifest.csv, an exported .csv and (one row per job) history_frame().
CSV_COLUMNS = ("file", "status", "task_id", "external_id", "model", "prompt",
               "negative_prompt", "image", "n", "resolution", "aspect_ratio", "cost",
               "created_at", "finished_at", "source", "options")


@dataclass(frozen=True)
class Item:
    """One saved file of one finished job, and everything asked for to make it."""

    task_id: str
    external_id: str
    model: str
    prompt: str
    options: dict[str, Any]
    cost: str | None
    created_at: float | None
    finished_at: float | None
    index: int  # 0-based, the file's place among its job's results
    source: Path
    name: str = ""  # its path inside a zip (set by ``named``)
    missing: bool = field(default=False)

    @property
    def negative_prompt(self) -> str:
        return str(self.options.get("negative_prompt") or "")

    def record(self) -> dict[str, Any]:
        """The manifest entry: every field, the options as they were asked."""
        return {
            "file": self.name or str(self.source),
            "status": "missing" if self.missing else "saved",
            "task_id": self.task_id,
            "external_id": self.external_id,
            "model": self.model,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "image": self.index + 1,
            "n": self.options.get("n"),
            "resolution": self.options.get("resolution"),
            "aspect_ratio": self.options.get("aspect_ratio"),
            "cost": self.cost,
            "created_at": local_iso(self.created_at),
            "finished_at": local_iso(self.finished_at),
            "source": str(self.source),
            "options": self.options,
        }

    def row(self) -> dict[str, Any]:
        """The CSV row: the record with the options as JSON."""
        record = self.record()
        record["options"] = json.dumps(self.options, ensure_ascii=False, sort_keys=True)
        return record


def local_iso(stamp: float | None) -> str:
    """Local time with its UTC offset, to the second: '2025-06-01T14:03:22+02:00'."""
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def options_of(summary: dict[str, Any]) -> dict[str, Any]:
    """A journalled request body without model, prompt and ids: what was asked besides."""
    return {key: value for key, value in summary.items() if key not in NOT_OPTIONS}


def items_from_jobs(jobs: Iterable[Job | Result | None]) -> list[Item]:
    """The files of the finished jobs among ``jobs`` (running and failed ones have none).
    Results count too, and None is skipped: ``sweep.jobs`` and ``batch.results`` hold a
    None for a cell never sent or failed. Anything else is a one-line error."""
    from ..engine.job import Job, Result
    from ..errors import ValidationError

    items: list[Item] = []
    for position, job in enumerate(jobs, start=1):
        if job is None:
            continue
        if not isinstance(job, (Job, Result)):
            raise ValidationError(f"export: jobs item {position} is a {type(job).__name__}; "
                                  "give jobs or results (sweep.jobs, batch.results, ...)")
        result = job.result if isinstance(job, Job) else job
        if result is None:
            continue
        elapsed = job.elapsed if isinstance(job, Job) else None
        created = (None if result.finished_at is None or elapsed is None
                   else result.finished_at - elapsed)
        cost = None if result.cost is None else str(result.cost)
        items += [Item(result.task_id, result.external_task_id, result.model, result.prompt,
                       dict(result.options), cost, created, result.finished_at, index,
                       Path(path)) for index, path in enumerate(result.paths)]
    return items


def items_from_rows(rows: Iterable[dict[str, Any]]) -> list[Item]:
    """The files of the completed jobs among journal rows."""
    items: list[Item] = []
    for row in rows:
        if row.get("status") != "completed":
            continue
        request = _json(row.get("request"), {})
        paths = local_paths(row.get("paths"), fetch=False)  # fetched once chosen: named()
        options = options_of(request if isinstance(request, dict) else {})
        task_id = str(row.get("task_id") or row["external_id"])
        items += [Item(task_id, str(row["external_id"]), str(row["model"]), str(row["prompt"]),
                       options, row.get("cost"), row.get("created_at"), row.get("updated_at"),
                       index, path)
                  for index, path in enumerate(paths)]
    return items


def _json(text: Any, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def named(items: Sequence[Item]) -> list[Item]:
    """Each item with its path inside a zip ('images/<task>-01.png') and whether its file
    is still there; a name is never used twice."""
    from dataclasses import replace

    seen: set[str] = set()
    out: list[Item] = []
    for item in items:
        stem = f"images/{safe_dirname(item.task_id)}-{item.index + 1:02d}"
        suffix = item.source.suffix.lower() if len(item.source.suffix) <= 6 else ""
        name, extra = f"{stem}{suffix}", 1
        while name in seen:
            extra += 1
            name = f"{stem}-{extra}{suffix}"
        seen.add(name)
        source = fetched(item.source)  # a teammate's shared result: only those exported
        out.append(replace(item, source=source, name=name, missing=not source.is_file()))
    return out
