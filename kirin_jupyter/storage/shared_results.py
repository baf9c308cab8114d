"""Results shared through object storage: ``output_dir`` as an fsspec URL
(``s3://bucket/prefix``, ``gs://...``, ``az://...``), so a teammate's kernel on another
machine opens what this one made.

A result is still downloaded, checked and stamped on local disk first, in a working copy
that mirrors the URL (``<cache>/s3/bucket/prefix/<task>/01.png``). Only then is it put
at the URL, so the provenance record is in the file before it is uploaded, and the
journal keeps the URL. Names are the task's own, so an object already at a result's name
is that result: a resumed job never uploads it again. A teammate's kernel fetches a URL
the journal names into the same mirror once, checks it like any download (its bytes are
untrusted), and every reader (show, lineage, compare, export) opens the local copy.

fsspec and its back ends (s3fs, gcsfs, adlfs) are the optional ``[shared]`` extra; they
are imported only when a shared location is used. Credentials and endpoints come from
each back end's own configuration (``AWS_*`` variables, fsspec's ``FSSPEC_S3_*``), never
from the URL, which is shown on cards and kept in the journal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..base.text import shown_value
from ..errors import DownloadError, LimitExceeded, ValidationError

if TYPE_CHECKING:
    from .journal import Journal

log = logging.getLogger("kirin_jupyter")

ENV_CACHE = "KIRIN_SHARED_CACHE"
# object stores: one PUT is atomic (a multipart upload appears when completed)
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
SHARED_SCHEMES = OBJECT_STORES | {"memory"}  # memory://: one process's, for tests
MAX_FETCH_BYTES = 1 << 30  # a teammate's result larger than this is refused unfetched
_VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mov"})
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._=+-]{0,199}")
_EXTRA_HINT = "pip install 'kirin-jupyter[shared]' (fsspec and s3fs; gcsfs or adlfs for gs:// or az://)"


def is_shared(location: str | Path) -> bool:
    """Does ``location`` name an object in shared storage (not a local path)?"""
    text = str(location)
    return "://" in text and text.split("://", 1)[0].lower() in SHARED_SCHEMES


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a shared output folder or result, in a few words; None if
    it can. Checked before anything is written or fetched."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SHARED_SCHEMES:
        return (f"{scheme or 'that'}:// is not a shared storage this tool writes; use "
                "s3://, gs://, az:// or a local folder")
    if "@" in parts.netloc or parts.query or parts.fragment:
        return ("a URL with a user, password or query is refused: put credentials in the "
                "storage's own configuration (AWS_* variables, fsspec's config), not here")
    segments = _segments(url)
    if not segments:
        return "names no bucket"
    if "" in parts.path.rstrip("/").split("/")[1:]:  # b//x is another object than b/x
        return "has an empty part (//)"
    bad = [s for s in segments if not _SEGMENT.fullmatch(s) or set(s) == {"."}]
    if bad:
        return (f"the part {bad[0][:40]!r} is not a plain name (letters, digits, . _ - = +)")
    return None


def _segments(url: str) -> list[str]:
    parts = urlsplit(url)
    return [s for s in [parts.netloc, *parts.path.split("/")] if s]


def cache_root() -> Path:
    """Where shared results are mirrored: ``KIRIN_SHARED_CACHE``, else the user's cache
    folder (platformdirs). Asked for every file a card or an export names: worked out
    once per value of the variable."""
    return _cache_root(os.environ.get(ENV_CACHE, ""))


@functools.lru_cache(maxsize=8)
def _cache_root(chosen: str) -> Path:
    if chosen:
        return Path(chosen).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kirin-jupyter")).resolve() / "shared"


def mirror_of(url: str) -> Path:
    """The local working copy of a shared folder or file (``ValueError`` for a URL that
    ``url_problem`` refuses: a journal row's URL is untrusted)."""
    problem = url_problem(url)
    if problem:
        raise ValueError(f"{shown_value(url)}: {problem}")
    return cache_root().joinpath(urlsplit(url).scheme.lower(), *_segments(url))


def working_folder(output_dir: str) -> Path:
    """The local folder results are saved in for an ``output_dir`` setting: the mirror
    of a shared URL, the path of a ``file://`` URL, else the path."""
    if output_dir.lower().startswith("file://"):
        from urllib.request import url2pathname

        return Path(url2pathname(urlsplit(output_dir).path)).expanduser()
    if "://" in output_dir:
        return mirror_of(output_dir.rstrip("/"))
    return Path(output_dir).expanduser()


def in_the_cache(folder: Path) -> bool:
    """Is ``folder`` inside the mirror of shared results? A local ``output_dir`` there
    would pass for a shared folder (and its files for a teammate's)."""
    try:
        folder.expanduser().resolve().relative_to(cache_root())
    except ValueError:
        return False
    return True


def location_of(path: Path | str) -> str:
    """What the journal calls a saved file: the URL of a shared result's working copy,
    else the absolute path."""
    where = Path(path).expanduser().resolve()
    try:
        rest = where.relative_to(cache_root()).parts
    except ValueError:
        return str(where)
    if len(rest) < 3 or rest[0] not in SHARED_SCHEMES:
        return str(where)
    return f"{rest[0]}://{'/'.join(rest[1:])}"


def publish(path: Path, url: str) -> str:
    """Put a stamped working copy (and its ``.kirin.json`` sidecar, if any) at ``url``
    (under the ``output_dir`` the user chose: never a URL a journal row names), unless an
    object is already there; the URL. ``OSError`` or ``ValidationError`` (one line) when
    it fails."""
    from .file_provenance import sidecar_path

    sidecar = sidecar_path(path)
    if sidecar.is_file():
        _put(sidecar, f"{url.rsplit('/', 1)[0]}/{sidecar.name}")
    _put(path, url)
    return url


def replace(path: Path, url: str) -> str:
    """Store a working copy that changed on purpose (a rating written into its XMP) at
    ``url``, which this process uploaded it to."""
    _put(path, url, overwrite=True)
    return url


def _put(local: Path, url: str, *, overwrite: bool = False) -> None:
    fs, remote = filesystem(url)
    try:
        fs.invalidate_cache(remote)
        if not overwrite and fs.exists(remote):
            log.info("%s is already stored: not uploaded again", url)
            return
        if fs.protocol and _protocols(fs) & OBJECT_STORES:
            fs.put_file(str(local), remote)
            return
        partial = f"{remote}.partial-{uuid.uuid4().hex}"  # renamed whole, or never seen
        fs.put_file(str(local), partial)
        fs.mv(partial, remote)
    except ValidationError:
        raise
    except ImportError as exc:  # a back end's part imported late (aiobotocore, ...)
        raise ValidationError(f"could not store {shown_value(url)}: {exc}: {_EXTRA_HINT}") \
            from None
    except Exception as exc:
        raise OSError(f"could not store {shown_value(url)}: {_one_line(exc)}") from None


def _protocols(fs: Any) -> set[str]:
    found = fs.protocol
    return {found} if isinstance(found, str) else set(found)


def filesystem(url: str) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path in it; ``ValidationError`` naming the
    extra when fsspec or the scheme's back end is not installed (one line)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise ValidationError(f"{url.split('://')[0]}:// results need fsspec: {_EXTRA_HINT}") \
            from None
    try:
        fs, remote = url_to_fs(url)
    except ImportError as exc:
        raise ValidationError(f"{url.split('://')[0]}:// results need a back end ({exc}): "
                          f"{_EXTRA_HINT}") from None
    return fs, str(remote)


def local_path(location: str, *, max_pixels: int = 40_000_000,
               max_bytes: int = MAX_FETCH_BYTES, fetch: bool = True) -> Path:
    """A local file for a journal's location: the path itself, or the mirror of a shared
    result, fetched once and checked like any download. A location that cannot be
    fetched gives its (missing) mirror path or the path as written, and is logged, so a
    reader shows it as a missing file."""
    if not is_shared(location):
        return Path(location)
    try:
        mirror = mirror_of(location)
    except ValueError as exc:
        log.warning("a shared result was not opened: %s", exc)
        return Path(location)
    if mirror.is_file() or not fetch:  # not fetched: export fetches only what it keeps
        return mirror
    try:
        _fetch(location, mirror, max_pixels=max_pixels, max_bytes=max_bytes)
    except (OSError, ValidationError, DownloadError, LimitExceeded) as exc:
        log.warning("%s was not fetched: %s", location, _one_line(exc))
        return mirror
    _fetch_sidecar(location, mirror)
    return mirror


def _fetch(url: str, mirror: Path, *, max_pixels: int, max_bytes: int) -> None:
    from .result_files import check_result

    fs, remote = filesystem(url)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=mirror.parent, prefix=".fetch-", suffix=mirror.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy_capped(fs, remote, out, max_bytes)
        if mirror.name.endswith(".kirin.json"):
            _check_sidecar(Path(partial))
        else:
            kind = "video" if mirror.suffix.lower() in _VIDEO_SUFFIXES else "image"
            check_result(Path(partial), kind, max_pixels)
        os.replace(partial, mirror)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _copy_capped(fs: Any, remote: str, out: Any, max_bytes: int) -> None:
    """Stream the object into ``out``, stopping past ``max_bytes`` whatever its listing
    said (an object replaced meanwhile, a store that lists no size)."""
    try:
        size = fs.info(remote).get("size")
    except FileNotFoundError:
        raise OSError("no object there") from None
    except Exception as exc:
        raise OSError(_one_line(exc)) from None
    if isinstance(size, int) and size > max_bytes:
        raise LimitExceeded(f"it is {size / 2**20:.0f} MB, over {max_bytes / 2**20:.0f} MB")
    copied = 0
    try:
        with fs.open(remote, "rb") as source:
            while chunk := source.read(1 << 20):
                copied += len(chunk)
                if copied > max_bytes:
                    raise LimitExceeded(f"it is over {max_bytes / 2**20:.0f} MB")
                out.write(chunk)
    except LimitExceeded:
        raise
    except Exception as exc:
        raise OSError(_one_line(exc)) from None


def _check_sidecar(path: Path) -> None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DownloadError(f"its record is not JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise DownloadError("its record is not a JSON object")


def local_paths(listed: object, *, fetch: bool = True) -> list[Path]:
    """A journal row's ``paths`` (JSON text or a list) as local files, shared ones
    fetched (or only named: ``fetched`` later); entries that are not text are dropped
    (the row is untrusted)."""
    if isinstance(listed, str):
        try:
            listed = json.loads(listed or "[]")
        except ValueError:
            return []
    if not isinstance(listed, list):
        return []
    found = []
    for item in listed:
        if isinstance(item, str) and item:
            found.append(local_path(item, fetch=fetch))
    return found


def fetched(path: Path) -> Path:
    """``path``, fetched first if it is the mirror of a shared result not here yet."""
    if path.is_file():
        return path
    called = location_of(path)
    return local_path(called) if is_shared(called) else path


def store_pending(journal: Journal, output_dir: Path, output_url: str) -> list[str]:
    """Store what a failed upload left on local disk: each completed job meant for
    ``output_url`` whose files the journal still names by their paths in its mirror
    ``output_dir``. The journal then names the URLs (ratings follow). The external ids of
    the jobs now stored; a file that fails again stays local, in one logged line."""
    root = output_dir.resolve()
    done = []
    for row in journal.unshared(output_url):
        stored = 0
        listed = local_paths(row.get("paths"), fetch=False)
        for path in listed:
            try:
                inside = path.resolve().relative_to(root).as_posix()
            except ValueError:
                continue  # not this mirror's: a row is untrusted
            if not path.is_file():
                continue
            try:
                url = publish(path, f"{output_url.rstrip('/')}/{inside}")
            except (OSError, ValidationError) as exc:
                log.warning("job %s: still kept on this machine only: %s",
                            row["external_id"], exc)
                continue
            _renamed(journal, path.resolve(), url)
            stored += 1
        if listed and stored == len(listed):
            done.append(str(row["external_id"]))
    return done


def _renamed(journal: Journal, path: Path, url: str) -> None:
    """The journal names a file by its URL now; a mark given meanwhile under the URL
    (``marks.mark`` keys a mirror's file by it) is kept."""
    given = journal.file_marks([url]).get(url)
    if given is not None:
        journal.forgot_file(url)
    journal.moved_file(path, url)
    if given is not None and (given.get("rating") is not None or given.get("flag")):
        journal.set_mark(url, rating=given.get("rating"), flag=given.get("flag"))


def _fetch_sidecar(url: str, mirror: Path) -> None:
    """A signed result's record lies beside it: fetched with it, when there is one."""
    from .file_provenance import sidecar_path

    sidecar = sidecar_path(mirror)
    sidecar_url = f"{url.rsplit('/', 1)[0]}/{sidecar.name}"
    try:
        fs, remote = filesystem(sidecar_url)
        if not fs.exists(remote):
            return
        _fetch(sidecar_url, sidecar, max_pixels=0, max_bytes=16 << 20)
    except (OSError, ValidationError, DownloadError, LimitExceeded) as exc:
        log.warning("the record beside %s was not fetched: %s", url, _one_line(exc))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
