"""Cards without IPython: a Job, Result, Batch, Sweep, SweepPlan and a comparison show
themselves through the display protocol (``_repr_html_`` and the ``repr`` as text/plain),
so marimo, nbconvert and Quarto show the card with no extension loaded and no formatter
registered (docs/decisions/0015-cards-without-ipython.md).

Each check runs a real, plain ``python`` (no IPython anywhere in it) that reaches the
package only through ``from kirin_jupyter.client import Client``, as a script or a marimo
cell may, against the built-in simulator. It reads each object as a front end does: the
``_repr_html_`` its class offers, and ``repr``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# What a front end that follows the display protocol does with an object: the HTML its
# class offers (none: the front end falls back to text), and its repr as text/plain.
SHOWN = """
import json, sys
from kirin_jupyter.client import Client

def shown(obj):
    method = getattr(type(obj), "_repr_html_", None)
    return {"text/html": method(obj) if method else None, "text/plain": repr(obj)}
"""

FINISHED = SHOWN + """
from kirin_jupyter.display.comparison import compare

client = Client()
job = client.generate("a red fox & a hare", n=2)
out = {"job_running": shown(job)}
result = job.wait()
other = client.generate("a blue heron", aspect_ratio="1:1").wait()
batch = client.batch(["a green frog", "a grey owl"])
batch.wait()
plan = client.plan_sweep("a {cat|dog} on a mat", aspect_ratio=["1:1", "16:9"])
sweep = client.sweep("a {cat|dog} on a mat", aspect_ratio=["1:1", "16:9"])
sweep.wait()
out |= {"job": shown(job), "result": shown(result), "batch": shown(batch),
        "plan": shown(plan), "sweep": shown(sweep),
        "comparison": shown(compare(result, other))}
out["ipython_loaded"] = "IPython" in sys.modules
out["paths"] = [str(p) for p in result.paths]
out["task_id"] = result.task_id
print(json.dumps(out))
"""

RUNNING = SHOWN + """
client = Client()
job = client.generate("a slow snail")
batch = client.batch(["a slow tortoise", "a slow sloth"])
sweep = client.sweep("a slow {slug|worm}")
out = {"job": shown(job), "batch": shown(batch), "sweep": shown(sweep),
       "done": [job.done(), batch.done(), sweep.done()],
       "ipython_loaded": "IPython" in sys.modules}
print(json.dumps(out))
"""


def run_plain_python(code: str, home: Path, seconds: str) -> dict[str, Any]:
    """``code`` in a fresh plain interpreter with its own KIRIN_HOME, no API key (the
    simulator), files under ``home``; what it printed, as JSON."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KIRIN_API_KEY", "KIRIN_BASE_URL")}
    env |= {"KIRIN_HOME": str(home / "kirin"), "KIRIN_OUTPUT_DIR": str(home / "outputs"),
            "KIRIN_CONFIG": str(home / "no-config.toml"), "KIRIN_SIMULATOR_SECONDS": seconds}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180, cwd=home, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    shown: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return shown


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_plain_python(FINISHED, tmp_path_factory.mktemp("finished"), "0.2")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_plain_python(RUNNING, tmp_path_factory.mktemp("running"), "30")


def images(html: str) -> list[str]:
    """The ``src`` of every <img>: pictures the saved HTML carries itself."""
    return re.findall(r'<img[^>]*\bsrc="([^"]+)"', html)


def html_of(shown: dict[str, Any], name: str) -> str:
    html = shown[name]["text/html"]
    assert isinstance(html, str), f"{name} offers no HTML: {shown[name]['text/plain']}"
    return html


def test_no_ipython_was_involved(finished: dict[str, Any], running: dict[str, Any]) -> None:
    assert finished["ipython_loaded"] is False
    assert running["ipython_loaded"] is False


def test_a_finished_job_shows_its_card_with_the_images(finished: dict[str, Any]) -> None:
    html = html_of(finished, "job")
    pictures = images(html)
    assert len(pictures) == 2
    assert all(src.startswith("data:image/jpeg;base64,") for src in pictures)
    assert "a red fox &amp; a hare" in html  # the prompt, escaped
    assert 'data-state="completed"' in html and "simulator" in html
    text = finished["job"]["text/plain"]
    assert "a red fox & a hare" in text and "completed" in text
    assert finished["task_id"] in text


def test_a_job_seen_before_it_ended_shows_the_progress_card(finished: dict[str, Any],
                                                             running: dict[str, Any]) -> None:
    for shown in (finished["job_running"], running["job"]):
        html = shown["text/html"]
        assert isinstance(html, str)
        assert re.search(r'data-state="(pending|submitting|queued|running)"', html)
        assert 'role="progressbar"' in html and images(html) == []
    assert running["done"][0] is False
    assert "a slow snail" in html_of(running, "job")
    assert re.search(r"(pending|submitting|queued|running)", running["job"]["text/plain"])


def test_a_result_shows_the_finished_card_and_names_its_files(
        finished: dict[str, Any]) -> None:
    html = html_of(finished, "result")
    assert len(images(html)) == 2
    assert "a red fox &amp; a hare" in html and 'data-state="completed"' in html
    text = finished["result"]["text/plain"]
    assert text.startswith("<Result ") and "completed" in text and "2 files" in text
    assert all(path in text for path in finished["paths"])
    assert "http" not in text  # the URLs are not what a terminal needs


def test_a_batch_shows_its_gallery(finished: dict[str, Any]) -> None:
    html = html_of(finished, "batch")
    assert len(images(html)) == 2
    assert "a green frog" in html and "a grey owl" in html
    assert "kirin-batch-result" in html
    assert "2 done" in finished["batch"]["text/plain"]


def test_a_running_batch_and_sweep_show_their_progress(running: dict[str, Any]) -> None:
    assert running["done"][1:] == [False, False]
    batch = html_of(running, "batch")
    assert "kirin-batch-live" in batch and 'role="progressbar"' in batch
    assert images(batch) == []
    sweep = html_of(running, "sweep")
    assert "kirin-sweep-live" in sweep and "slug" in sweep and "worm" in sweep
    assert images(sweep) == []
    assert "0 done" in running["batch"]["text/plain"]
    assert "2 to go" in running["sweep"]["text/plain"]


def test_a_sweep_shows_its_grid_of_images(finished: dict[str, Any]) -> None:
    html = html_of(finished, "sweep")
    assert len(images(html)) == 4
    for label in ("cat", "dog", "1:1", "16:9"):
        assert label in html
    assert "kirin-sweep-result" in html
    assert "4 cells" in finished["sweep"]["text/plain"]
    assert "4 done" in finished["sweep"]["text/plain"]


def test_a_sweep_plan_shows_its_table(finished: dict[str, Any]) -> None:
    html = html_of(finished, "plan")
    assert "<table" in html and "kirin-sweep-plan" in html
    assert html.count("<tr") == 5  # a header and one row per cell
    for label in ("cat", "dog", "1:1", "16:9"):
        assert label in html
    text = finished["plan"]["text/plain"]
    assert text.startswith("<SweepPlan ") and "4 cells" in text


def test_a_comparison_shows_every_picture(finished: dict[str, Any]) -> None:
    """compare(result of two images, result of one): a strip of three."""
    html = html_of(finished, "comparison")
    pictures = images(html)
    assert len(pictures) == 3
    assert all(src.startswith("data:image/jpeg;base64,") for src in pictures)
    assert "a red fox &amp; a hare #2" in html and "a blue heron" in html
    assert "3 images, strip" in finished["comparison"]["text/plain"]


def test_ipython_without_the_extension_shows_the_card(tmp_path: Path) -> None:
    """A kernel where the package's formatters were never registered (nbconvert or Quarto
    running ``from kirin_jupyter.client import Client``): IPython's own display formatter
    finds ``_repr_html_`` and saves the card, with the repr as its text."""
    code = """
import json
from IPython.core.interactiveshell import InteractiveShell
from kirin_jupyter.client import Client

shell = InteractiveShell.instance()
job = Client().generate("a fox under the moon")
job.wait()
data, _ = shell.display_formatter.format(job)
print(json.dumps({"shown": data, "repr": repr(job)}))
"""
    shown = run_plain_python(code, tmp_path, "0.2")
    html = shown["shown"]["text/html"]
    assert len(images(html)) == 1 and "a fox under the moon" in html
    assert shown["shown"]["text/plain"] == shown["repr"]
