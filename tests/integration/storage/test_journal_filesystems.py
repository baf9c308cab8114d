"""A journal on a network home folder (issue 24, item 5): the file system is told from
mountinfo, and a network or FUSE one gets SQLite's rollback journal instead of WAL (which
does not work there). Two real kernels sharing such a journal: tests/kernel/
test_journal_on_network_disk.py."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kirin_jupyter.storage import journal as journal_module
from kirin_jupyter.storage import journal_disk
from kirin_jupyter.storage.journal import Journal
from kirin_jupyter.storage.journal_disk import choose, disk_kind, fstype_in, fstype_of

# -- which file system types are network ones -----------------------------------------

# mountinfo's name for each, and its statfs magic number, for the record
NETWORK = [
    "nfs", "nfs4",            # 0x6969
    "smb3", "smbfs", "cifs",  # SMB2 0xFE534D42, SMB 0x517B, CIFS 0xFF534D42
    "lustre",                 # 0x0BD00BD0
    "gpfs",                   # 0x47504653
    "fuse.sshfs", "fuse", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone",  # FUSE 0x65735546
    "9p",                     # 0x01021997 (WSL 2's Windows drives, VM shares)
    "afs", "ceph", "glusterfs", "beegfs", "virtiofs", "vboxsf", "NFS4",
]
LOCAL = ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "ext3", "f2fs", "vfat",
         "fuseblk", "autofs", "", None]


@pytest.mark.parametrize("fstype", NETWORK)
def test_a_network_or_fuse_file_system_gets_the_rollback_journal(
        fstype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert disk_kind(fstype) == "network"
    monkeypatch.setattr(journal_disk, "fstype_of", lambda path: fstype)
    choice = choose(Path("/home/u/j.sqlite3"), environ={})
    assert (choice.mode, choice.pragma, choice.forced) == ("rollback", "DELETE", None)
    notice = choice.notice(Path("/home/u/j.sqlite3")) or ""
    assert f"the journal /home/u/j.sqlite3 is on a network disk ({fstype})" in notice


@pytest.mark.parametrize("fstype", LOCAL)
def test_a_local_or_unknown_file_system_keeps_wal(
        fstype: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert disk_kind(fstype) == "local"
    monkeypatch.setattr(journal_disk, "fstype_of", lambda path: fstype)
    choice = choose(Path("/home/u/j.sqlite3"), environ={})
    assert (choice.mode, choice.pragma) == ("wal", "WAL") and choice.notice(Path("/")) is None


# -- which mount holds a path -----------------------------------------------------------

MOUNTINFO = """\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime shared:3 - tmpfs tmpfs rw,size=24683584k
60 27 0:50 / /home rw,relatime shared:20 - autofs auto.home rw,fd=7,pgrp=1
61 60 0:51 / /home/alice rw,relatime shared:21 master:4 - nfs4 fs1:/export/alice rw,vers=4.2
62 61 8:17 / /home/alice/local\\040disk rw,relatime - ext4 /dev/sdb1 rw
63 60 8:18 / /home/alicex rw,relatime - xfs /dev/sdc1 rw
70 27 0:60 / /scratch rw,relatime - lustre 10.0.0.1@o2ib:/scratch rw,flock
71 27 0:61 / /gpfs/projects rw,relatime - gpfs projects rw
72 27 0:62 / /mnt/remote rw,nosuid,nodev,relatime - fuse.sshfs bob@host:/data rw,user_id=1000
73 27 0:63 / /data rw,relatime - tmpfs tmpfs rw
74 27 0:64 / /data rw,relatime - cifs //nas/data rw,vers=3.1.1
75 27 0:65 / /mnt/ntfs rw,relatime - fuseblk /dev/sdd1 rw,user_id=0
"""


@pytest.mark.parametrize(("path", "fstype"), [
    ("/", "ext4"),
    ("/etc/hosts", "ext4"),
    ("/dev/shm/x", "tmpfs"),
    ("/home", "autofs"),
    ("/home/alice", "nfs4"),
    ("/home/alice/.local/share/kirin-jupyter/journal.sqlite3", "nfs4"),  # longest wins
    ("/home/alice/local disk/kirin/journal.sqlite3", "ext4"),  # \040 is a space
    ("/home/alice/local diskette/j.sqlite3", "nfs4"),  # a prefix of a name is no parent
    ("/home/alicex/j.sqlite3", "xfs"),
    ("/scratch/u/j.sqlite3", "lustre"),
    ("/gpfs/projects/p/j.sqlite3", "gpfs"),
    ("/gpfs/other/j.sqlite3", "ext4"),
    ("/mnt/remote/j.sqlite3", "fuse.sshfs"),
    ("/data/j.sqlite3", "cifs"),  # mounted on top of the tmpfs: the later one
    ("/mnt/ntfs/j.sqlite3", "fuseblk"),
])
def test_the_mount_that_holds_a_path(path: str, fstype: str) -> None:
    assert fstype_in(path, MOUNTINFO) == fstype


def test_no_mount_no_type() -> None:
    assert fstype_in("/home/alice/j.sqlite3", "") is None
    assert fstype_in("/x", "garbage line\n\n27 1 254:0 / /y rw - ext4 /dev/vda rw\n") is None


def test_this_machines_file_systems_are_read_from_its_mountinfo(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        assert fstype_of(tmp_path) is None  # no mountinfo: unknown, WAL as before
        return
    witness = shutil.which("findmnt")  # util-linux reads the same table its own way
    assert witness, "findmnt (util-linux) is needed as the witness"

    def findmnt(path: Path) -> str:
        return subprocess.run([witness, "-n", "-o", "FSTYPE", "-T", str(path)],
                              capture_output=True, text=True, check=True).stdout.split()[-1]  # the top one

    assert fstype_of(tmp_path) == findmnt(tmp_path)
    not_yet = tmp_path / "home" / "kirin" / "journal.sqlite3"  # the folder made later
    assert fstype_of(not_yet) == findmnt(tmp_path)
    shm = Path("/dev/shm")
    if shm.is_dir():  # a second mount below /: the longer mount point wins
        assert fstype_of(shm / "kirin" / "j.sqlite3") == findmnt(shm) == "tmpfs"
    link = tmp_path / "link"
    link.symlink_to("/proc")  # a symlink is followed to where the file really is
    assert fstype_of(link / "self") == "proc"


# -- the journal in each mode -------------------------------------------------------------


def _mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _wal_files(path: Path) -> list[Path]:
    return [p for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
            if p.exists()]


def test_on_a_local_disk_the_journal_keeps_wal(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)  # tmp_path: a local disk, as KIRIN_HOME pointed at one is
    journal.record_host_fact("u", "a", "b")
    assert _mode(path) == "wal" and _wal_files(path)
    assert capsys.readouterr().err == ""


def test_on_a_network_disk_the_journal_uses_rollback_and_says_so_once(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_disk, "fstype_of", lambda path: "nfs4")
    monkeypatch.setattr(journal_module, "_told", set())
    path = tmp_path / "home" / "journal.sqlite3"
    for _ in range(2):  # two clients of one kernel: one line
        journal = Journal(path)
        journal.record_submit("kj-1" if _ == 0 else "kj-2", "kirin_image_omni", "a fox",
                              {"n": 1}, "http://x", tmp_path)
        with journal._connect() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert conn.execute("PRAGMA locking_mode").fetchone()[0] == "normal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
        assert not _wal_files(path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"the journal {path} is on a network disk (nfs4)" in err
    assert "rollback journal, not WAL" in err and "KIRIN_HOME" in err
    assert _mode(path) == "delete"
    assert [r["external_id"] for r in Journal(path).claim_unfinished("http://x")[0]] == [
        "kj-1", "kj-2"]


def test_kirin_journal_mode_overrides_the_disk(tmp_path: Path, capsys,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_disk, "fstype_of", lambda path: "nfs4")
    monkeypatch.setenv("KIRIN_JOURNAL_MODE", "wal")
    Journal(tmp_path / "a.sqlite3").record_host_fact("u", "a", "b")
    assert _mode(tmp_path / "a.sqlite3") == "wal"
    monkeypatch.setattr(journal_disk, "fstype_of", lambda path: "ext4")
    monkeypatch.setenv("KIRIN_JOURNAL_MODE", "rollback")
    Journal(tmp_path / "b.sqlite3").record_host_fact("u", "a", "b")
    assert _mode(tmp_path / "b.sqlite3") == "delete"
    monkeypatch.setenv("KIRIN_JOURNAL_MODE", "walrus")  # a typo: the disk decides
    Journal(tmp_path / "c.sqlite3").record_host_fact("u", "a", "b")
    assert _mode(tmp_path / "c.sqlite3") == "wal"
    assert capsys.readouterr().err == ""  # a mode chosen on purpose needs no notice


def test_a_wal_journal_moves_to_rollback_unless_another_process_holds_it(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "_told", set())
    path = tmp_path / "j.sqlite3"
    held = Journal(path, mode="wal")  # a kernel of a WAL version keeps it open
    held.record_host_fact("u", "a", "b")
    meanwhile = Journal(path, mode="rollback")
    meanwhile.record_host_fact("u", "c", "d")  # works on, in WAL
    assert "stays in WAL mode: another process has it open" in capsys.readouterr().err
    held.close()
    meanwhile.close()
    alone = Journal(path, mode="rollback")
    alone.record_host_fact("u", "e", "f")  # alone: moved over
    assert _mode(path) == "delete" and not _wal_files(path)
    assert set(Journal(path).host_facts("u")) == {"a", "c", "e"}
