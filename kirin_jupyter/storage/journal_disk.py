"""Which disk the journal is on, and so which SQLite journal mode it gets: WAL on a local
disk, the rollback journal on a network or FUSE file system, where WAL does not work
("WAL does not work over a network filesystem", sqlite.org/wal.html).

The file system is read from ``/proc/self/mountinfo`` (the mount holding the path: the
longest mount point that contains it, the last one mounted on a tie), not from statfs:
Python has no ``os.statfs``, a ctypes ``struct statfs`` differs per architecture, and
mountinfo names the type, so ``fuse.sshfs`` (network) and ``fuseblk`` (a local NTFS disk),
one statfs magic number between them, are told apart. Where there is no mountinfo
(macOS, Windows) the type is unknown and the journal keeps WAL, except on a Windows
network share (``\\\\server\\share``). ``KIRIN_JOURNAL_MODE`` (``wal``, ``rollback``)
overrides the choice; ``KIRIN_HOME`` on a local disk is the other way out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ENV_JOURNAL_MODE = "KIRIN_JOURNAL_MODE"
MOUNTINFO = Path("/proc/self/mountinfo")

# Linux file system types (as mountinfo names them) on which several hosts, or a host and
# a FUSE daemon, share a file: SQLite's WAL index (shared memory) is not shared there.
NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "ncpfs", "afs", "coda", "ceph",
    "lustre", "gpfs", "beegfs", "fhgfs", "orangefs", "pvfs2", "glusterfs", "panfs",
    "wekafs", "ocfs2", "gfs2", "9p", "virtiofs", "vboxsf", "prl_fs", "drvfs", "davfs",
    "fuse",
})
LOCAL_FUSE = frozenset({"fuseblk"})  # ntfs-3g, exfat-fuse: one host's own block device

_OCTAL = re.compile(r"\\([0-7]{3})")


def disk_kind(fstype: str | None) -> Literal["network", "local"]:
    """"network" for a network or FUSE file system type (``nfs4``, ``fuse.sshfs``, ...),
    "local" for any other, an unknown one included (WAL there, as before)."""
    kind = (fstype or "").lower()
    if kind in LOCAL_FUSE:
        return "local"
    if kind in NETWORK_TYPES or kind.startswith("fuse."):
        return "network"
    return "local"


def _unescape(field: str) -> str:
    """mountinfo writes a space as ``\\040``, a tab ``\\011``, a backslash ``\\134``."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def fstype_in(path: str, mountinfo: str) -> str | None:
    """The type of the file system that holds the absolute, resolved ``path``, read from
    the text of a mountinfo file; None when no mount holds it."""
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        point = _unescape(fields[4])
        fstype = fields[fields.index("-", 6) + 1]
        inside = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):  # later mounts cover
            best = (len(point), fstype)
    return best[1] if best else None


def fstype_of(path: Path) -> str | None:
    """The file system type of ``path`` (or of its nearest folder that exists), on this
    machine; None when it cannot be told."""
    place = os.path.abspath(path)
    if os.name == "nt":
        return "smb" if place.startswith("\\\\") else None
    while not os.path.exists(place) and os.path.dirname(place) != place:
        place = os.path.dirname(place)
    try:
        text = MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    return fstype_in(os.path.realpath(place), text)


@dataclass(frozen=True)
class Choice:
    """The journal mode for one journal file, and why."""

    mode: Literal["wal", "rollback"]
    fstype: str | None  # the file system found (None: not looked at, or unknown)
    forced: str | None = None  # "KIRIN_JOURNAL_MODE" or "argument" when not by the disk

    @property
    def pragma(self) -> str:
        return "WAL" if self.mode == "wal" else "DELETE"

    def notice(self, path: Path) -> str | None:
        """The one line a user reads when the disk chose the rollback journal."""
        if self.mode != "rollback" or self.forced:
            return None
        return (f"kirin: the journal {path} is on a network disk ({self.fstype}): it uses "
                "SQLite's rollback journal, not WAL; set KIRIN_HOME to a local folder to "
                "keep it there")


def choose(path: Path, mode: str | None = None,
           environ: Mapping[str, str] | None = None) -> Choice:
    """``mode`` ("wal", "rollback"), else ``KIRIN_JOURNAL_MODE``, else the disk decides.
    A value that is neither is ignored ("auto" means the disk), so a typo in the
    environment never stops the journal."""
    env = os.environ if environ is None else environ
    for value, source in ((mode, "argument"), (env.get(ENV_JOURNAL_MODE), ENV_JOURNAL_MODE)):
        wanted = (value or "").strip().lower()
        if wanted in ("wal", "rollback"):
            return Choice("wal" if wanted == "wal" else "rollback", None, source)
    fstype = fstype_of(path)
    return Choice("rollback" if disk_kind(fstype) == "network" else "wal", fstype)
