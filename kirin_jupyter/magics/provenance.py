"""``%kirin show PATH``, ``%kirin rerun PATH [options]`` and ``%kirin lineage ID``.

Everything is read and checked before anything is sent: a file without a record, or a
record whose reference images cannot be found again, is one ``UsageError`` line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..base.user_files import read_user_file
from ..errors import KirinError, ValidationError
from ..model.request import OPTION_NAMES
from ..storage.file_provenance import RECORD_FILE_LIMIT
from . import grammar as magic_options

if TYPE_CHECKING:
    from ..client import Client
    from ..storage.journal import Journal

USAGE = {
    "rerun": "%kirin rerun PATH [options]",
    "lineage": "%kirin lineage TASK_ID|EXTERNAL_ID|PATH",
}


def path_argument(text: str) -> Path | None:
    """The file a ``show``/``rerun``/``lineage`` argument names, if it names one (quotes
    allowed around a path with spaces)."""
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if len(words) != 1:
        return None
    path = Path(words[0]).expanduser()
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def _record(path: Path, command: str) -> dict[str, Any]:
    from ..storage.file_provenance import provenance

    try:
        return provenance(path)
    except ValidationError as exc:
        raise UsageError(f"%kirin {command}: {exc}") from None


def show(path: Path) -> None:
    """The record inside a result file, as a card (text in a terminal)."""
    from ..display.provenance_views import RecordView

    view = RecordView(_record(path, "show"), path)
    display(view)  # type: ignore[no-untyped-call]


# How a rerun's line is generated: the magics' own path for ``%%kirin`` (given, not
# imported, so this subcommand never imports the magics class).
Generate = Callable[[argparse.Namespace, str], None]


def run(client: Client, generate: Generate, command: str, rest: str) -> None:
    if not rest.strip():
        raise UsageError(f"%kirin {command}: which one? usage: {USAGE[command]}")
    if command == "lineage":
        lineage(client, rest)
    else:
        rerun(client, generate, rest)


def lineage(client: Client, rest: str) -> None:
    from ..display.provenance_views import LineageView
    from ..lineage import chain, find_node

    words = magic_options._split(rest)
    if len(words) != 1:
        raise UsageError(f"%kirin lineage: one id or path, not {len(words)}; usage: "
                         f"{USAGE['lineage']}")
    try:
        journal = client.journal
        node = find_node(words[0], journal)
    except KirinError as exc:  # ValidationError too: one line, never a traceback
        raise UsageError(f"%kirin lineage: {exc}") from None
    display(LineageView(chain(node, journal)))  # type: ignore[no-untyped-call]


def _parser() -> argparse.ArgumentParser:
    parser = magic_options.build_parser(with_var=False)
    parser.prog = "%kirin rerun"
    parser.add_argument("file", help="a result file with a kirin record inside")
    parser.add_argument("--n", dest="n", help=argparse.SUPPRESS)  # as in "rerun it with --n 2"
    return parser


def rerun(client: Client, generate: Generate, rest: str) -> None:
    """A new generation from a file's record: the recorded prompt and options, with those
    given on the line instead; a new external id (unless --id); followed as ``%kirin``."""
    from ..model.provenance_record import options_from_record

    args = _parser().parse_args(magic_options._split(rest))
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(f"%kirin rerun: no file {args.file!r}")
    record = _record(path, "rerun")
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise UsageError(f"%kirin rerun: the record in {path.name} holds no prompt")
    for name, value in options_from_record(record).items():
        if getattr(args, name, None) in (None, []) and value is not None:
            setattr(args, name, [str(v) for v in value] if name == "elements" else value)
    if not args.images:
        try:
            args.images = [str(p) for p in _reference_files(record, client.journal)]
        except ValidationError as exc:
            raise UsageError(f"%kirin rerun: {exc}") from None
    for name in OPTION_NAMES:  # every RequestOptions name is on the namespace
        if not hasattr(args, name):
            setattr(args, name, None)
    try:
        generate(args, prompt)
    except KirinError as exc:
        raise UsageError(f"%kirin rerun: {exc}") from None


def _reference_files(record: dict[str, Any], journal: Journal) -> list[Path]:
    """The record's reference images found again: a file only holds their hashes, so each
    must be an earlier result still on disk with the same SHA-256; otherwise the person
    gives them with --image."""
    refs = [r for r in record.get("references") or [] if isinstance(r, dict)]
    found: list[Path] = []
    for number, ref in enumerate(refs, start=1):
        path = _find_result_file(ref, journal)
        if path is None:
            raise ValidationError(
                f"reference image {number} ({ref.get('label') or 'unnamed'}) is not on disk "
                "as an earlier result; a file keeps only its hash: give the references "
                "with --image")
        found.append(path)
    return found


def _find_result_file(ref: dict[str, Any], journal: Journal) -> Path | None:
    import sqlite3

    parent, digest = ref.get("parent_task_id"), str(ref.get("sha256") or "")
    if not parent or len(digest) < 16:
        return None
    try:
        row = journal.find(str(parent))
        paths = json.loads((row or {}).get("paths") or "[]")
    except (sqlite3.Error, ValueError):
        return None
    for text in paths:
        path = Path(str(text))
        try:
            data = read_user_file(path, RECORD_FILE_LIMIT, "result file")
        except ValidationError:
            continue
        if hashlib.sha256(data).hexdigest().startswith(digest):
            return path
    return None
