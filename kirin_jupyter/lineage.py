"""Lineage: which earlier result a reference image was, and the chain of a job's ancestors.

A reference may be given as a Job, a Result, one image of either (``$job[2]`` in the magic,
``ResultImage(job, 2)`` in Python), or a path to a saved result file: each resolves to the
file on disk and its task id, the parent. A file names its parent through its own record
(``images._parent_in``); an older file without one is found through the journal when it
lies at ``output_dir/<task_id>/NN.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ValidationError
from .model.images import load_reference
from .model.provenance_record import parents_of_row
from .model.request import reference_labels
from .storage.shared_results import local_paths, location_of

if TYPE_CHECKING:
    from .engine.job import Result
    from .storage.journal import Journal

# ``$name`` or ``$name[i]`` on a magic line: one grammar for --image and for show, rerun
# and lineage; [i] counts a result's images (0-based, negative from the end) everywhere.
VARIABLE = re.compile(r"\$([A-Za-z_]\w*)(?:\[(-?\d{1,3})\])?")
_RESULT_NAME = re.compile(r"\d{2}\.(png|jpe?g|webp)", re.IGNORECASE)
MAX_DEPTH = 64  # ancestors followed at most (a journal edited by hand may hold a loop)


@dataclass(frozen=True)
class ResultImage:
    """Image ``index`` (0-based, negative from the end) of a Job's or a Result's files."""

    source: Any
    index: int = 0


def variable_image(text: str, namespace: dict[str, Any]) -> Any:
    """``$name`` or ``$name[i]`` on a magic line: the variable, or its i-th result image."""
    match = VARIABLE.fullmatch(text)
    if match is None:
        raise ValidationError(f"--image {text}: write $name or $name[N] (N a whole number)")
    name, index = match.group(1), match.group(2)
    if name not in namespace:
        raise ValidationError(f"--image {text}: no variable named {name!r}")
    value = namespace[name]
    return value if index is None else ResultImage(value, int(index))


def _result_of(source: Any, what: str) -> Result:
    from .engine.job import Job, Result

    if isinstance(source, Result):
        return source
    if isinstance(source, Job):
        if not source.done():
            raise ValidationError(f"{what} is still {source.status}; wait for it "
                                  "(job.wait() or %kirin wait) before using it as a reference")
        if source.result is None:
            raise ValidationError(f"{what} failed, so it has no image to use as a reference")
        return source.result
    raise ValidationError(f"{what}: [N] picks an image of a Job or a Result, not of a "
                          f"{type(source).__name__}")


def result_image(source: Any, index: int) -> tuple[Path, str]:
    """Image ``index`` of a Job's or a Result's files (images only, as every [i] counts)
    and its task id; ``ValidationError`` when there is none."""
    what = f"job {getattr(source, 'task_id', None) or ''}".strip()
    result = _result_of(source, what)
    kinds = result.types or ["image"] * len(result.paths)
    images = [p for p, kind in zip(result.paths, kinds, strict=False) if kind == "image"]
    if not -len(images) <= index < len(images):
        raise ValidationError(f"{what} has {len(images)} image(s); [{index}] is not one of "
                              f"them (the first is [0])")
    return images[index], result.task_id


def resolve_images(images: Any, journal: Journal | None, *, fit: bool) -> Any:
    """``images`` with every earlier result turned into a checked ``ReferenceImage`` that
    names its parent task; anything else is left for ``build_request`` to check."""
    from .engine.job import Job, Result

    items = list(images) if isinstance(images, (list, tuple)) else [images]
    resolved: list[Any] = []
    for item in items:
        if isinstance(item, (Job, Result)):
            item = ResultImage(item, 0)
        if isinstance(item, ResultImage):
            path, task_id = result_image(item.source, item.index)
            ref = load_reference(path, fit=fit, label=f"{task_id}/{path.name}")
            resolved.append(dataclasses.replace(ref, parent_task_id=task_id))
        elif isinstance(item, (str, os.PathLike)) and _is_local_file(item):
            ref = load_reference(item, fit=fit)
            if ref.parent_task_id is None and journal is not None:
                parent = parent_by_layout(Path(item), journal)
                ref = dataclasses.replace(ref, parent_task_id=parent) if parent else ref
            resolved.append(ref)
        else:
            resolved.append(item)
    return resolved


def _is_local_file(item: str | os.PathLike[str]) -> bool:
    text = os.fspath(item)
    if text.lower().startswith(("http://", "https://", "data:")) or len(text) > 4096:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def parent_by_layout(path: Path, journal: Journal) -> str | None:
    """A file with no record inside, at ``<output_dir>/<task_id>/NN.png``: the journal's
    job of that task, when it lists this very file among its results."""
    import sqlite3

    if not _RESULT_NAME.fullmatch(path.name):
        return None
    try:
        row = journal.find(path.resolve().parent.name)
    except sqlite3.Error:
        return None
    if row is None or not row.get("task_id"):
        return None
    try:  # compared as paths: the JSON escapes non-ASCII, and a substring is not a file
        listed = json.loads(row.get("paths") or "[]")
    except ValueError:
        return None
    here, called = path.resolve(), location_of(path)  # a shared result: by its URL
    mine = any(isinstance(p, str) and (p == called or Path(p).resolve() == here)
               for p in (listed if isinstance(listed, list) else []))
    return str(row["task_id"]) if mine else None


@dataclass(frozen=True)
class Ref:
    """A reference image a generation sent: its SHA-256 (the whole hash from a file's
    record, its first 16 digits from the journal) and its label ("<task>/02.png" for an
    earlier result)."""

    digest: str
    label: str = ""


@dataclass(frozen=True)
class Node:
    """One generation in a chain: what the lineage row shows.

    ``used``: its files that a later generation of the chain sent as a reference, found
    by hash; the row draws the first of them (``shown``), not simply the first image."""

    task_id: str
    prompt: str
    model: str
    paths: tuple[Path, ...]
    parents: tuple[str, ...]
    created_at: float | None = None
    refs: tuple[Ref, ...] = ()
    used: tuple[Path, ...] = ()

    @property
    def shown(self) -> Path | None:
        """The picture that stands for this generation: the one used, else its first."""
        for path in (*self.used, *self.paths):
            if path.is_file():
                return path
        return None


_HEX = re.compile(r"[0-9a-f]{16,64}")


def _ref(label: Any, digest: Any) -> Ref | None:
    text = str(digest or "").strip().lower()
    return Ref(text, str(label or "")) if _HEX.fullmatch(text) else None


def refs_of_row(row: dict[str, Any]) -> tuple[Ref, ...]:
    """The journal's references: ``"<label> sha256:<16 digits>"`` in the request summary."""
    try:
        summary = json.loads(row.get("request") or "{}")
    except ValueError:
        return ()
    if not isinstance(summary, dict):
        return ()
    found = []
    for key in ("image_list", "image"):  # the field differs between models
        for text in reference_labels(summary.get(key)):
            label, _, digest = text.rpartition(" sha256:")
            ref = _ref(label, digest)
            if ref is not None:
                found.append(ref)
    return tuple(found)


def refs_of_record(record: dict[str, Any]) -> tuple[Ref, ...]:
    """A file's record's references, each with its whole SHA-256."""
    found = []
    for item in record.get("references") or []:
        if isinstance(item, dict):
            ref = _ref(item.get("label"), item.get("sha256"))
            if ref is not None:
                found.append(ref)
    return tuple(found)


def node_from_row(row: dict[str, Any]) -> Node:
    paths = local_paths(row.get("paths"))
    return Node(task_id=row.get("task_id") or row["external_id"], prompt=row["prompt"],
                model=row["model"], paths=tuple(paths),
                parents=tuple(parents_of_row(row)), created_at=row.get("created_at"),
                refs=refs_of_row(row))


def node_from_record(record: dict[str, Any], path: Path | None) -> Node:
    parents = record.get("parents") or [r.get("parent_task_id") for r in
                                        record.get("references") or [] if isinstance(r, dict)]
    return Node(task_id=str(record.get("task_id") or "?"), prompt=str(record.get("prompt", "")),
                model=str(record.get("model", "")), paths=(path,) if path else (),
                parents=tuple(p for p in parents if isinstance(p, str) and p),
                refs=refs_of_record(record))


def _digest(path: Path) -> str | None:
    """The SHA-256 of a result file, read as any user's file (capped, regular files only)."""
    import hashlib

    from .base.user_files import read_user_file
    from .storage.file_provenance import RECORD_FILE_LIMIT

    try:
        return hashlib.sha256(read_user_file(path, RECORD_FILE_LIMIT, "result file")).hexdigest()
    except (ValidationError, OSError):
        return None


def used_files(parent: Node, children: list[Node]) -> tuple[Path, ...]:
    """``parent``'s files that ``children`` sent as references: matched by hash, else (a
    reference mended with --fit was re-encoded) by its label "<parent task>/<file name>"."""
    refs = [ref for child in children for ref in child.refs]
    if not refs or not parent.paths:
        return ()
    digests = {path: _digest(path) for path in parent.paths if path.is_file()}
    used = [path for path, digest in digests.items()
            if digest and any(digest.startswith(ref.digest) for ref in refs)]
    if not used:
        labels = {ref.label for ref in refs}
        used = [path for path in parent.paths if f"{parent.task_id}/{path.name}" in labels]
    return tuple(used)


def chain(start: Node, journal: Journal) -> list[Node]:
    """``start`` and its ancestors, oldest first. Several references give several parents:
    all are shown, each once, ordered by when they were made. Each ancestor knows which of
    its files its children in the chain used (``Node.used``)."""
    import sqlite3

    seen: dict[str, Node] = {start.task_id: start}
    todo = list(start.parents)
    while todo and len(seen) < MAX_DEPTH:
        task_id = todo.pop(0)
        if task_id in seen:
            continue
        try:
            row = journal.find(task_id)
        except sqlite3.Error:
            row = None
        node = node_from_row(row) if row else Node(task_id, "(not in this journal)", "",
                                                   (), ())
        seen[task_id] = node
        todo.extend(node.parents)
    for task_id, node in list(seen.items()):
        children = [other for other in seen.values() if task_id in other.parents]
        if children:
            seen[task_id] = dataclasses.replace(node, used=used_files(node, children))
    ancestors = [n for key, n in seen.items() if key != start.task_id]
    ancestors.sort(key=lambda n: (n.created_at is None, n.created_at or 0.0))
    return [*ancestors, seen[start.task_id]]


def find_node(ident: str, journal: Journal) -> Node:
    """A task id, an external id or a path to a result file, as a chain's last node."""
    from .storage.file_provenance import provenance

    path = Path(ident).expanduser()
    if _is_local_file(ident):
        record = provenance(path)
        row = journal.find(str(record.get("task_id") or ""))
        if row is not None:
            return node_from_row(row)
        return node_from_record(record, path)
    row = journal.find(ident)
    if row is None:
        raise ValidationError(f"no job with task id or external id {ident!r}, and no file "
                              "by that name")
    return node_from_row(row)
