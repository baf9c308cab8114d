"""``%kirin rerun PATH [options]``: generate again from the record inside a result file.

Everything is read and checked before anything is sent: a file without a record, or a
record whose reference images cannot be found again, is one ``UsageError`` line.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ...base.user_files import read_user_file
from ...errors import KirinError, ValidationError
from ...model.request import OPTION_NAMES
from ...storage.file_provenance import RECORD_FILE_LIMIT
from ...storage.shared_results import local_paths
from .. import grammar as magic_options
from ..context import Context
from ..generation import generate
from ..variables import named
from .show import record as _record

if TYPE_CHECKING:
    from ...client import Client
    from ...storage.journal import Journal

USAGE = "%kirin rerun PATH [options]"


def run(ctx: Context, rest: str) -> None:
    if rest.split():
        rest = named("rerun", rest, ctx.user_ns)
    client = ctx.client()
    if not rest.strip():
        raise UsageError(f"%kirin rerun: which one? usage: {USAGE}")
    rerun(ctx, client, rest)


def _parser() -> argparse.ArgumentParser:
    parser = magic_options.build_parser(with_var=False)
    parser.prog = "%kirin rerun"
    parser.add_argument("file", help="a result file with a kirin record inside")
    parser.add_argument("--n", dest="n", help=argparse.SUPPRESS)  # as in "rerun it with --n 2"
    return parser


def rerun(ctx: Context, client: Client, rest: str) -> None:
    """A new generation from a file's record: the recorded prompt and options, with those
    given on the line instead; a new external id (unless --id); followed as ``%kirin``."""
    from ...model.provenance_record import options_from_record

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
        generate(ctx, args, prompt, var=None)
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
        paths = local_paths((row or {}).get("paths"))
    except sqlite3.Error:
        return None
    for path in paths:
        try:
            data = read_user_file(path, RECORD_FILE_LIMIT, "result file")
        except ValidationError:
            continue
        if hashlib.sha256(data).hexdigest().startswith(digest):
            return path
    return None
