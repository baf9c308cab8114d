"""``export(path)``: finished generations as a file a colleague can open, chosen by suffix.

- ``.zip``: the files byte for byte, ``manifest.json``, ``manifest.csv`` and an
  ``index.html`` contact sheet that points at the files inside the zip;
- ``.html``: one self-contained contact sheet (thumbnails embedded);
- ``.csv``: one row per image.

The file appears whole or not at all (written beside it, then renamed). A result file that
was deleted since is listed as missing, not a failure. ``picked=True`` (or ``min_rating``)
keeps the winners only; ``provenance="minimal"`` or ``"off"`` gives a zip for a client:
the files carry the AI mark and ids only (or nothing of ours), and the manifest, CSV and
contact sheet leave out the prompts and options. ``history_frame()`` is the journal
as a pandas DataFrame, one row per job.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..base.file_modes import write_atomically
from ..errors import KirinError, ValidationError
from ..storage.shared_results import location_of
from .items import CSV_COLUMNS, Item, items_from_jobs, items_from_rows, named, options_of

if TYPE_CHECKING:
    from ..engine.job import Job, Result
    from ..storage.journal import Journal

SUFFIXES = (".zip", ".html", ".csv")
SHEET_THUMB = 480  # px, the longer side of a thumbnail in a self-contained sheet
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote: where, and how many images (and how many were missing)."""

    path: Path
    images: int
    jobs: int
    missing: int

    def __str__(self) -> str:
        gone = f" ({self.missing} missing: listed, not included)" if self.missing else ""
        return (f"exported {self.images} image{'s' if self.images != 1 else ''} of "
                f"{self.jobs} job{'s' if self.jobs != 1 else ''} to {self.path}{gone}")


def check_path(path: str | os.PathLike[str]) -> Path:
    """The target, if its suffix names a format; else a one-line error, nothing written."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in SUFFIXES:
        raise ValidationError(f"export: {target.name!r} does not end in .zip, .html or .csv "
                              "(the suffix chooses the format)")
    if target.is_dir():
        raise ValidationError(f"export: {target} is a folder; give a file name")
    return target


def export(path: str | os.PathLike[str],
           jobs: Iterable[Job | Result | None] | None = None, *, picked: bool = False,
           min_rating: int | None = None, provenance: str = "full") -> Exported:
    """Export finished jobs (default: this session's, ``default_client().jobs``) to
    ``path``: a .zip (files, manifest.json/.csv, index.html), .html or .csv. Results may
    stand for their jobs, and a None (a sweep cell never sent) is skipped. ``picked``:
    only the images marked picked; ``min_rating``: only those rated that or more;
    ``provenance``: full, minimal or off (what the exported files and manifest carry)."""
    target = check_path(path)
    level = _checked_level(provenance)
    from ..shortcuts import default_client

    if jobs is None:
        jobs = default_client().jobs
    jobs = list(jobs)
    journal = _journal_of(jobs) or default_client().journal
    items = _winners(items_from_jobs(jobs), journal, picked, min_rating)
    return write(target, items, level=level, journal=journal)


def export_journal(path: str | os.PathLike[str], journal: Journal, *,
                   since: float | None = None, model: str | None = None,
                   picked: bool = False, min_rating: int | None = None,
                   provenance: str = "full", user: str | None = None) -> Exported:
    """Export the journal's completed jobs created at or after ``since`` (a timestamp) of
    ``model`` (a model name) made by ``user`` (a team journal records it), newest first;
    ``picked``, ``min_rating`` and ``provenance`` as ``export``."""
    target = check_path(path)
    level = _checked_level(provenance)
    items = items_from_rows(journal_rows(journal, since=since, model=model, user=user))
    return write(target, _winners(items, journal, picked, min_rating), level=level,
                 journal=journal)


def _checked_level(level: object) -> str:
    from ..model.provenance_record import level_problem

    problem = level_problem(level)
    if problem:
        raise ValidationError(f"export: provenance = {level!r}: {problem}")
    return str(level)


def _journal_of(jobs: Sequence[Job | Result | None]) -> Journal | None:
    """The journal the results were recorded in (their client's), if they say."""
    from ..engine.job import Job

    for job in jobs:
        result = job.result if isinstance(job, Job) else job
        if result is not None and getattr(result, "journal", None) is not None:
            return result.journal
    return None


def _winners(items: list[Item], journal: Journal, picked: bool,
             min_rating: int | None) -> list[Item]:
    """The items marked picked (and/or rated ``min_rating`` or more) in the journal."""
    if not picked and min_rating is None:
        return items
    if min_rating is not None:
        from ..storage.marks import checked_rating

        min_rating = checked_rating(min_rating)
    called = [location_of(item.source) for item in items]
    marks = journal.file_marks(called)
    kept = []
    for item, name in zip(items, called, strict=True):
        row = marks.get(name, {})
        if picked and row.get("flag") != "picked":
            continue
        if min_rating is not None and (row.get("rating") or 0) < min_rating:
            continue
        kept.append(item)
    return kept


def journal_rows(journal: Journal, *, since: float | None = None, model: str | None = None,
                 page: int = 500, user: str | None = None) -> list[dict[str, Any]]:
    """Every journal row (newest first) from ``since`` on, a page at a time: the history
    walks the created_at index, so a recent ``since`` reads a few rows of a big journal."""
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        batch, _ = journal.history(limit=page, offset=offset, model=model, user=user)
        for row in batch:
            if since is not None and row["created_at"] < since:
                return rows
            rows.append(row)
        if len(batch) < page:
            return rows
        offset += page


def day_start(text: str) -> float:
    """'2025-06-01' -> the timestamp of that day's local midnight; else a one-line error."""
    import datetime
    import re

    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"a date is YYYY-MM-DD (e.g. 2025-06-01), not {text!r}"
                              ) from None
    return datetime.datetime.combine(day, datetime.time()).timestamp()


def write(target: Path, items: Sequence[Item], *, level: str = "full",
          journal: Journal | None = None) -> Exported:
    """Write ``items`` in the format ``target``'s suffix names, atomically; below level
    ``full`` the manifest, CSV and sheet leave the prompts and options out."""
    import dataclasses

    items = named(items)
    if level != "full":
        items = [dataclasses.replace(item, prompt="", options={}) for item in items]
    suffix = target.suffix.lower()
    title = f"Kirin export: {target.stem}"
    writer: Callable[[IO[bytes]], None]
    if suffix == ".zip":
        def writer(fh: IO[bytes]) -> None:
            _write_zip(fh, items, title, level, journal)
    elif suffix == ".html":
        def writer(fh: IO[bytes]) -> None:
            from .contact_sheet import sheet_html

            fh.write(sheet_html(items, _embedded, title=title).encode())
    else:
        def writer(fh: IO[bytes]) -> None:
            fh.write(_csv([_csv_row(item, zipped=False) for item in items]).encode())
    write_atomically(target, writer)
    return Exported(target, len(items), len({item.external_id for item in items}),
                    sum(item.missing for item in items))


def _write_zip(fh: IO[bytes], items: Sequence[Item], title: str, level: str = "full",
               journal: Journal | None = None) -> None:
    from .contact_sheet import sheet_html

    records = [item.record() for item in items]
    manifest = {"format": "kirin-export/1", "images": len(items), "provenance": level,
                "missing": sum(item.missing for item in items), "items": records}
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            if item.missing:
                continue
            if level == "full":  # images are compressed already: stored as they are
                archive.write(item.source, item.name, compress_type=zipfile.ZIP_STORED)
            else:
                archive.writestr(item.name, _at_level(item.source, level, journal),
                                 compress_type=zipfile.ZIP_STORED)
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2,
                                                     default=str))
        archive.writestr("manifest.csv", _csv([_csv_row(item, zipped=True) for item in items]))
        archive.writestr("index.html", sheet_html(items, _in_zip, title=title))


def _at_level(source: Path, level: str, journal: Journal | None) -> bytes:
    """A file's bytes with the minimal record (its rating kept) or none of ours."""
    from ..model.provenance_record import at_level
    from ..storage.file_provenance import at_level_bytes, read_record

    data = source.read_bytes()
    try:
        record = read_record(data)
    except ValidationError:
        record = None
    called = location_of(source)
    if record is None and journal is not None:
        record = journal.file_record(called)
    row = journal.file_marks([called]).get(called, {}) if journal is not None else {}
    rating = -1 if row.get("flag") == "rejected" else row.get("rating")
    minimal = at_level(record, "minimal") if record is not None else None
    return at_level_bytes(data, level, minimal, rating)


def _in_zip(item: Item) -> str:
    from urllib.parse import quote

    return quote(item.name)


def _embedded(item: Item) -> str:
    from PIL import Image

    from ..storage.thumbnails import thumbnail_jpeg

    try:
        data = thumbnail_jpeg(item.source, SHEET_THUMB)
    except (OSError, ValueError, Image.DecompressionBombError):  # a video, not an image
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _csv_row(item: Item, *, zipped: bool) -> dict[str, Any]:
    row = item.row()
    if not zipped:
        row["file"] = str(item.source)
    return row


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with a header; a cell a spreadsheet would run as a formula ('=...') gets a
    leading apostrophe (manifest.json keeps every value exactly). Lines end in CRLF (RFC
    4180): the writer quotes only a field holding a line ending's characters, so with "\n"
    alone a prompt with a lone "\r" went unquoted and split its row in two."""
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    out.writeheader()
    for row in rows:
        out.writerow({key: _cell(value) for key, value in row.items()})
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


# -- the journal as a DataFrame ---------------------------------------------------------------


def history_frame(*, model: str | None = None, since: str | float | None = None,
                  user: str | None = None) -> Any:
    """The journal of the session's client as a pandas DataFrame, one row per job (newest
    first), with the columns of an exported CSV plus state, error and file count.

    ``since``: a day ('2025-06-01', from local midnight) or a timestamp; ``model``: a model
    name or alias; ``user``: who made the jobs (a team journal records it)."""
    try:
        import pandas as pd
    except ImportError:
        raise KirinError("history_frame() needs pandas: pip install kirin-jupyter[pandas]"
                         ) from None
    from ..model import spec
    from ..shortcuts import default_client

    try:
        name = spec.resolve_model(model).name if model else None
    except KeyError as exc:
        raise ValidationError(f"history_frame: {exc.args[0]}") from None
    start = day_start(since) if isinstance(since, str) else since
    journal = default_client().journal
    rows = journal_rows(journal, since=start, model=name, user=user)
    records = [job_record(row) for row in rows]
    _add_marks(records, rows, journal)
    frame = pd.DataFrame(records, columns=JOB_COLUMNS)
    for column in ("created_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    frame["cost"] = pd.to_numeric(frame["cost"])
    return frame


JOB_COLUMNS = ("task_id", "external_id", "status", "model", "prompt", "negative_prompt", "n",
               "resolution", "aspect_ratio", "cost", "created_at", "finished_at", "files",
               "error", "options", "rating", "picked", "rejected", "user", "host")


def _add_marks(records: list[dict[str, Any]], rows: list[dict[str, Any]],
               journal: Journal) -> None:
    """Each job's best rating (None when unrated) and how many of its files are picked
    and rejected: one journal query for the lot."""
    listed = [_json_list(row.get("paths")) for row in rows]
    marks = journal.file_marks([p for paths in listed for p in paths])
    for record, paths in zip(records, listed, strict=True):
        found = [marks[p] for p in paths if p in marks]
        ratings = [m["rating"] for m in found if m.get("rating") is not None]
        record["rating"] = max(ratings) if ratings else None
        record["picked"] = sum(m.get("flag") == "picked" for m in found)
        record["rejected"] = sum(m.get("flag") == "rejected" for m in found)


def _json_list(text: Any) -> list[str]:
    try:
        found = json.loads(text) if text else []
    except ValueError:
        return []
    return [p for p in found if isinstance(p, str)] if isinstance(found, list) else []


def job_record(row: dict[str, Any]) -> dict[str, Any]:
    """One journal row as the DataFrame's row (times as timestamps, options as JSON)."""
    try:
        request = json.loads(row.get("request") or "{}")
        paths = json.loads(row.get("paths") or "[]")
    except ValueError:
        request, paths = {}, []
    options = options_of(request if isinstance(request, dict) else {})
    done = row.get("status") == "completed"
    return {
        "task_id": row.get("task_id"), "external_id": row.get("external_id"),
        "status": row.get("status"), "model": row.get("model"), "prompt": row.get("prompt"),
        "negative_prompt": options.get("negative_prompt") or "", "n": options.get("n"),
        "resolution": options.get("resolution"), "aspect_ratio": options.get("aspect_ratio"),
        "cost": row.get("cost"), "created_at": row.get("created_at"),
        "finished_at": row.get("updated_at") if done else None,
        "files": len(paths) if isinstance(paths, list) else 0, "error": row.get("error"),
        "options": json.dumps(options, ensure_ascii=False, sort_keys=True),
        "user": row.get("user_name"), "host": row.get("host"),  # who made it, and where
    }
