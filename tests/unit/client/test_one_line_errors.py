"""Bad input gets one clear line before anything is sent, never a traceback (issue 14, 6)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.config.settings import Layer, resolve
from tests.conftest import TEST_KEY


def sent(shell: InteractiveShell) -> dict:
    return shell.magics_manager.registry["KirinMagics"].client().simulator.stats()["requests"]


@pytest.mark.parametrize("line", ["-n ² a fox", "-n ٣ a fox", "--wait --timeout abc a fox",
                                  "--wait --timeout inf a fox", "--wait --timeout nan a fox",
                                  "--wait --timeout -1 a fox"])
def test_magic_options_are_refused_before_sending(shell: InteractiveShell, line: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("kirin", line)
    assert "\n" not in str(caught.value)
    assert sent(shell) == {}


def test_history_with_odd_digits_is_a_usage_error(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="usage: %kirin history"):
        shell.run_line_magic("kirin", "history ²")


def test_a_lone_surrogate_is_refused_before_sending(tmp_path: Path) -> None:
    client = Client(output_dir=tmp_path)
    with pytest.raises(ValidationError, match=r"cannot be sent .*position 6"):
        client.generate("a fox \ud800 at dawn")
    assert client.simulator.stats()["requests"] == {}


@pytest.mark.parametrize("value", ["abc", "nan", float("nan"), "-1", "inf"])
def test_a_max_cost_that_is_not_an_amount(value: object) -> None:
    with pytest.raises(ValidationError, match="max_cost must be an amount in USD"):
        Client(max_cost=value)  # type: ignore[arg-type]


def test_a_base_url_without_a_scheme() -> None:
    with pytest.raises(ValidationError, match=r"^base_url = 'gateway.example.com' \(from "
                       r"argument\): must be vtrix or seacloud, or start with http:// or https://$"):
        Client(api_key=TEST_KEY, base_url="gateway.example.com")
    with pytest.raises(ValidationError, match=r"\(from \$KIRIN_BASE_URL\): must be vtrix or seacloud, or start with"):
        Client(settings=resolve(Layer({"base_url": "gw.example"}, "$KIRIN_BASE_URL")))


def test_waiting_forever_or_for_nan(tmp_path: Path) -> None:
    job = Client(output_dir=tmp_path).generate("a fox")
    assert job.wait(float("inf")).paths  # no OverflowError: inf means no limit
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        job.wait(float("nan"))


@pytest.mark.parametrize("image, why", [
    (np.array([[object()] * 400] * 400, dtype=object), "must hold numbers"),
    (np.zeros((0, 0, 3), dtype=np.uint8), "is empty"),
    (np.full((400, 400), np.nan), "NaN or infinite"),
])
def test_odd_numpy_arrays(tmp_path: Path, image: object, why: str) -> None:
    client = Client(output_dir=tmp_path)
    with pytest.raises(ValidationError, match=why):
        client.generate("a fox", images=[image])


def test_reference_paths_that_cannot_be_read(tmp_path: Path, make_image) -> None:
    client = Client(output_dir=tmp_path)
    with pytest.raises(ValidationError, match="image file not found"):
        client.generate("a fox", images=["x" * 5000 + ".png"])  # a name too long
    with pytest.raises(ValidationError, match="image file not found"):
        client.generate("a fox", images=["a\x00b.png"])
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="image file not found"):  # not a regular file
        client.generate("a fox", images=[fifo])
    locked = make_image(400, 400)
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: make it unreadable another way
        locked.unlink()
        locked.mkdir()
        (locked / "x").touch()
        with pytest.raises(ValidationError, match="image file not found"):
            client.generate("a fox", images=[locked])
    else:
        with pytest.raises(ValidationError, match="cannot read"):
            client.generate("a fox", images=[locked])
    huge = tmp_path / "huge.png"
    with huge.open("wb") as fh:
        fh.truncate(4 << 30)  # 4 GiB, sparse: refused from its size, never read
    with pytest.raises(ValidationError, match=r"huge.png is 4096\.0 MB; the API accepts at most 10 MB, and files over 64\.0 MB are not read"):
        client.generate("a fox", images=[huge])
    assert client.simulator.stats()["requests"] == {}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_truncated_reference_with_an_intact_header_is_not_sent(
    tmp_path: Path, make_image, fmt: str
) -> None:
    """Issue 14, item 7: the header-only checks passed these, and they were sent."""
    from PIL import Image

    path = make_image(640, 480, fmt)
    noisy = Image.effect_noise((640, 480), 60).convert("RGB")  # big enough to cut
    noisy.save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    client = Client(output_dir=tmp_path)
    with pytest.raises(ValidationError, match="is damaged: it does not decode whole"):
        client.generate("a fox", images=[path])
    assert client.simulator.stats()["requests"] == {}


def test_a_corrupt_journal_is_one_line_and_nothing_is_sent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "journal.sqlite3").write_bytes(b"this is not a database" * 100)
    client = Client(output_dir=tmp_path)
    with pytest.raises(Exception) as caught:
        client.generate("a fox")
    assert "journal" in str(caught.value) and "nothing was sent" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert client.simulator.stats()["requests"] == {}


def test_a_journal_that_cannot_be_written_sends_nothing(tmp_path: Path) -> None:
    import sqlite3

    client = Client(output_dir=tmp_path)
    client.generate("a fox").wait(20)  # the journal exists
    path = client.journal.path
    with sqlite3.connect(path) as conn:  # writes now fail, as on a full or read-only disk
        conn.execute("CREATE TRIGGER no_more BEFORE INSERT ON jobs "
                     "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    job = client.generate("another fox")
    with pytest.raises(Exception, match=r"cannot be written .*disk is full.*nothing was sent"):
        job.wait(20)
    assert client.simulator.stats()["requests"]["create"] == 1  # only the first job's


def test_a_log_file_that_cannot_be_written_says_so_once(tmp_path: Path, capsys) -> None:
    import errno
    import logging

    from kirin_jupyter.client import _QuietFileHandler

    handler = _QuietFileHandler(tmp_path / "kirin.log", encoding="utf-8")

    class Full:
        def write(self, text: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    handler.stream = Full()  # type: ignore[assignment]
    logger = logging.getLogger("kirin-test-full-disk")
    logger.addHandler(handler)
    try:
        for i in range(50):
            logger.warning("line %d", i)
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert "Traceback" not in err and "Logging error" not in err


def test_a_home_that_is_a_file_gives_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("KIRIN_HOME", str(blocker / "home"))
    client = Client(output_dir=tmp_path)  # no job log: one line on stderr
    assert "kirin: no job log: cannot write" in capsys.readouterr().err
    with pytest.raises(Exception, match=r"journal .* nothing was sent"):
        client.generate("a fox")
    assert client.simulator.stats()["requests"] == {}


@pytest.mark.parametrize("value", ["inf", "1e999", "nan", "-1", "abc"])
@pytest.mark.parametrize("line", ["kirin --wait --timeout {v} a fox",
                                  "kirin batch prompts.txt --timeout {v}",
                                  "kirin --ar 1:1,16:9 --wait --timeout {v} a fox",
                                  "kirin wait --timeout {v}"])
def test_every_timeout_reads_seconds_the_same_way(shell: InteractiveShell, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  line: str, value: str) -> None:
    """One parser for every --timeout: inf was accepted by batches and refused elsewhere."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.txt").write_text("a fox\n")
    magic, rest = line.format(v=value).split(" ", 1)
    with pytest.raises(UsageError, match=r"--timeout needs a number of seconds, 0 or more, "
                       rf"not '{value}' \(leave it out to wait without a limit\)$"):
        shell.run_line_magic(magic, rest)
    assert sent(shell) == {}
