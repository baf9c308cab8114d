"""What goes into a result file's record, and back out of it for ``%kirin rerun``.

Kept apart from the byte splicing (``storage/file_provenance.py``): this module knows
jobs, requests and the journal; that one only knows file formats. The record is built
from the request's ``options`` (the journal's summary: references by label and hash,
never their bytes) and never from anything that holds the API key.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..storage.file_provenance import c2pa_manifest, image_kind, stamp_file, write_sidecar
from .request import reference_labels

if TYPE_CHECKING:
    from ..storage.journal import Journal
    from .request import GenerationRequest

log = logging.getLogger("kirin_jupyter")

RECORD_VERSION = 1
_STAMPED = {".png", ".jpg", ".jpeg", ".webp"}

# What a saved file carries (the ``provenance`` setting); the journal keeps the full
# record whichever it is.
LEVELS = ("full", "minimal", "off")
# What ``minimal`` keeps: the AI mark (always in the XMP), model, service, time and ids;
# never a byte of the prompt, the negative prompt, the options or the reference hashes.
_MINIMAL_FIELDS = ("kirin_record", "model", "service", "task_id", "external_task_id",
                   "created_at", "finished_at", "image", "images", "simulated", "version")


def level_problem(level: object) -> str | None:
    """Why ``level`` is no provenance level, or None."""
    return None if level in LEVELS else f"choose one of: {', '.join(LEVELS)}"


def at_level(record: dict[str, Any], level: str) -> dict[str, Any]:
    """The record as a file saved at ``level`` carries it (``full`` or ``minimal``)."""
    if level == "minimal":
        kept = {name: record[name] for name in _MINIMAL_FIELDS if name in record}
        return {**kept, "provenance": "minimal"}
    return {**record, "provenance": "full"}


def utc_iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, timezone.utc).isoformat(
        timespec="seconds")


def references(request: GenerationRequest) -> list[dict[str, Any]]:
    """Each reference image by label, full SHA-256 and, when it was an earlier result,
    that result's task id. A request rebuilt from the journal (resume) has only the
    journal's short hashes."""
    if request.images:
        return [{"label": ref.label, "sha256": ref.sha256, "url": ref.is_url,
                 "parent_task_id": ref.parent_task_id,
                 **({"uploaded_url": ref.shown_upload} if ref.shown_upload else {})}
                for ref in request.images]
    field = request.model.image_field
    found = []
    for text in reference_labels(request.options.get(field)):
        label, _, digest = str(text).rpartition(" sha256:")
        found.append({"label": label, "sha256": digest, "url": False, "parent_task_id": None})
    return found


def build_record(request: GenerationRequest, *, task_id: str, cost: Decimal | None,
                 created_at: float | None, finished_at: float, parents: list[str],
                 simulated: bool, index: int, count: int,
                 service: str | None = None) -> dict[str, Any]:
    """The record of result ``index`` (0-based) of ``count`` of one generation."""
    from ..version import __version__

    refs = references(request)
    if parents and not any(r["parent_task_id"] for r in refs):  # resumed: the journal's
        for ref, parent in zip(refs, parents, strict=False):
            ref["parent_task_id"] = parent
    return {
        "kirin_record": RECORD_VERSION,
        "model": request.model.name,
        "service": service,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "options": dict(request.options),
        "task_id": task_id,
        "external_task_id": request.external_task_id,
        "cost": None if cost is None else str(cost),
        "created_at": utc_iso(created_at),
        "finished_at": utc_iso(finished_at),
        "references": refs,
        "parents": parents,
        "image": index + 1,
        "images": count,
        "simulated": simulated,
        "version": __version__,
    }


def parameters_text(record: dict[str, Any], size: tuple[int, int] | None) -> str:
    """A1111's ``parameters`` layout: the prompt, ``Negative prompt: ...``, then one line
    of ``Key: value`` pairs, which A1111, ComfyUI and image browsers already read."""
    options = record.get("options") or {}
    pairs = [("Model", record.get("model"))]
    if size:
        pairs.append(("Size", f"{size[0]}x{size[1]}"))
    pairs += [("Aspect ratio", options.get("aspect_ratio")),
              ("Resolution", options.get("resolution")),
              ("Seed", options.get("seed")),
              ("Task id", record.get("task_id")),
              ("Kirin version", record.get("version"))]
    lines = [str(record.get("prompt") or "")]
    if record.get("negative_prompt"):
        lines.append(f"Negative prompt: {record['negative_prompt']}")
    lines.append(", ".join(f"{key}: {_one_line(value)}" for key, value in pairs
                           if value not in (None, "")))
    return "\n".join(lines)


def _one_line(value: object) -> str:
    return " ".join(str(value).replace(",", " ").split())


def _png_size(path: Path) -> tuple[int, int] | None:
    with path.open("rb") as fh:
        head = fh.read(24)
    if image_kind(head) != "png" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def journal_facts(journal: Journal, external_id: str) -> tuple[float | None, list[str]]:
    """When the job was journaled (its creation) and the parents the journal holds."""
    try:
        row = journal.get(external_id)
    except sqlite3.Error:
        return None, []
    if row is None:
        return None, []
    return row.get("created_at"), parents_of_row(row)


def parents_of_row(row: dict[str, Any]) -> list[str]:
    try:
        found = json.loads(row.get("parents") or "[]")
    except ValueError:
        return []
    return [p for p in found if isinstance(p, str)] if isinstance(found, list) else []


@dataclass(frozen=True)
class JobStamp:
    """What the records of one job's files share, gathered once before the downloads and
    spliced into each image after them (``stamp_files``).

    ``finished_at`` is when the client saw the task complete (the status answer that
    listed the result URLs), not when the files were saved: the record dates the task,
    not its download."""

    request: GenerationRequest
    task_id: str
    cost: Decimal | None
    created_at: float | None
    parents: list[str]
    finished_at: float
    simulated: bool
    service: str | None = None  # the host (or "kirin-jupyter simulator"): the credit line
    level: str = "full"  # what the files carry (``LEVELS``)

    def record(self, index: int, count: int) -> dict[str, Any]:
        return build_record(self.request, task_id=self.task_id, cost=self.cost,
                            created_at=self.created_at, finished_at=self.finished_at,
                            parents=self.parents, simulated=self.simulated, index=index,
                            count=count, service=self.service)


def service_name(base_url: str, simulated: bool) -> str:
    """The service as a credit line names it: its host name, never a path or a query."""
    from urllib.parse import urlsplit

    if simulated:
        return "kirin-jupyter simulator"
    return urlsplit(base_url).hostname or "Kirin image API"


def job_stamp(journal: Journal, request: GenerationRequest, *, task_id: str,
              cost: Decimal | None, finished_at: float, simulated: bool,
              service: str | None = None, level: str = "full") -> JobStamp:
    """The facts of one job's records (a journal read: run it off the engine loop)."""
    created_at, parents = journal_facts(journal, request.external_task_id)
    return JobStamp(request, task_id, cost, created_at, list(request.parents) or parents,
                    finished_at, simulated, service, level)


@dataclass(frozen=True)
class Stamped:
    """What happened to one saved file's record: ``where`` is ``file``, ``sidecar`` (a
    signed file, left as it was), ``none`` (provenance off, or not an image) or
    ``failed``; ``signed`` names the C2PA manifest found."""

    path: Path
    where: str
    record: dict[str, Any] | None  # the full record: the journal keeps it either way
    signed: str | None = None


def stampable(path: Path, kind: str) -> bool:
    """A result that gets a record: an image saved as PNG, JPEG or WebP."""
    return kind == "image" and path.suffix.lower() in _STAMPED


def stamp_files(stamp: JobStamp, paths: list[Path], types: list[str]) -> list[Stamped]:
    """Splice the record into every saved image at the stamp's level; run off the engine
    loop (file I/O). A signed file (C2PA) is never changed: its record goes to a sidecar.

    A file that cannot take one is logged and kept as it is: the record is a courtesy, the
    image is what was paid for. Returns what happened to each file."""
    done: list[Stamped] = []
    for index, path in enumerate(paths):
        kind = types[index] if index < len(types) else "image"
        if not stampable(path, kind):
            done.append(Stamped(path, "none", None))
            continue
        record = stamp.record(index, len(paths))
        done.append(_stamp_one(path, record, stamp.level))
    return done


def _stamp_one(path: Path, record: dict[str, Any], level: str) -> Stamped:
    try:
        with path.open("rb") as fh:
            signed = c2pa_manifest(fh.read())
        if level == "off":
            return Stamped(path, "none", record, signed)
        carried = at_level(record, level)
        if signed:
            write_sidecar(path, carried, signed)
            return Stamped(path, "sidecar", record, signed)
        size = _png_size(path)
        text = parameters_text(carried, size) if size and level == "full" else None
        stamp_file(path, carried, text)
    except Exception as exc:  # a file the splicer cannot read stays as it is
        log.warning("no provenance written into %s: %s", path, exc)
        return Stamped(path, "failed", record)
    return Stamped(path, "file", record)


def options_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """``RequestOptions`` (model and the rest, no images, no external id) of a record:
    what ``%kirin rerun`` starts from."""
    options = record.get("options") or {}
    elements = [e.get("element_id") for e in options.get("element_list") or []
                if isinstance(e, dict)]
    watermark = options.get("watermark_info")
    return {
        "model": record.get("model"),
        "n": options.get("n"),
        "resolution": options.get("resolution"),
        "aspect_ratio": options.get("aspect_ratio"),
        "negative_prompt": record.get("negative_prompt") or options.get("negative_prompt"),
        "elements": elements or None,
        "watermark": watermark.get("enabled") if isinstance(watermark, dict) else None,
        "extra_params": options.get("extra_params") or None,
    }
