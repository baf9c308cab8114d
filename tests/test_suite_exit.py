"""The test process ends when its work ends (issue 22 D12).

pytest printed its summary and the process lived on 34 to 48 s: every IPython shell the
tests made (some 80) had registered ``atexit_operations``, whose namespace reset runs a full
``gc.collect()`` over the suite's heap, one shell after another (faulthandler's stacks at
exit showed the main thread in ``DisplayHook.flush``). conftest.py makes a shell's exit
close its history and nothing more. This probe makes 30 shells beside a heap like the
suite's and times the exit, with IPython's own exit work and with the suite's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
import sys
from IPython.core.interactiveshell import InteractiveShell
if sys.argv[1] == "suite":
    from tests.conftest import _close_history_at_exit
    InteractiveShell.atexit_operations = _close_history_at_exit
heap = [{"k": [i, str(i)]} for i in range(400_000)]  # objects a long test run keeps
for _ in range(30):  # a shell per test, cleared after it as the tests do
    InteractiveShell.instance()
    InteractiveShell.clear_instance()
print("done", flush=True)
"""


def exit_seconds(mode: str, tmp_path: Path) -> float:
    """Seconds from the probe's last line to its exit."""
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / mode), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", PROBE, mode], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"done\n"
    said = time.monotonic()
    proc.wait(timeout=120)
    return time.monotonic() - said


def test_shells_made_by_the_tests_do_not_hold_the_exit(tmp_path: Path) -> None:
    suite = exit_seconds("suite", tmp_path)
    ipython = exit_seconds("ipython", tmp_path)
    assert suite < 3, suite
    assert ipython > suite + 2, (ipython, suite)  # what the suite's exit used to cost
