"""One kernel, one truth: a magic, the panel and the Python API share settings, budget and
jobs; Ctrl-C while waiting stops the waiting, not the job, with one line and no traceback.
Real kernels (jupyter_client), as users run them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from kirin_jupyter.magics.follow import STOPPED_WAITING
from tests.kernel.kernel_helpers import Execution, Kernel, running_kernel


def text_of(execution: Execution) -> str:
    return "".join(m["content"].get("text", "") for m in execution.of_type("stream"))


def errors_of(execution: Execution) -> list[dict[str, Any]]:
    return [m["content"] for m in execution.of_type("error")]


def checked(kernel: Kernel, code: str, timeout: float = 60) -> str:
    """Run a cell that must not fail; its printed text."""
    done = kernel.run(code, timeout)
    assert not errors_of(done), (code, errors_of(done))
    return text_of(done)


def test_magic_panel_and_python_api_share_settings_budget_and_jobs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.kirin]\nn = 2\noutput_dir = "renders"\n', encoding="utf-8")
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS="0.5")
    env.pop("KIRIN_OUTPUT_DIR", None)  # the project file decides where files go
    with running_kernel(env=env, cwd=str(project)) as kernel:
        checked(kernel, "%load_ext kirin_jupyter\nimport kirin_jupyter as k")
        checked(kernel, "%kirin --wait a fox")
        said = checked(kernel, "r = k.generate('a cat').wait(60)\n"
                               "print(len(r.paths), r.paths[0].parent.parent.name)")
        assert said.strip() == "2 renders"  # [tool.kirin] applies to generate() too
        said = checked(kernel, "p = k.Panel()\n"
                               "p.options.prompt.value = 'a bird'\n"
                               "p.generate().wait(60)\n"
                               "print(p.client is k.default_client(), p.options.n.value)")
        assert said.strip() == "True 2"
        checked(kernel, "%config Kirin.n = 1")  # %config beats the file, for generate() too
        said = checked(kernel, "print(len(k.generate('a dog').wait(60).paths))")
        assert said.strip() == "1"
        config = checked(kernel, "%kirin config")
        assert "Kirin.n = 1  (from %config)" in config
        assert f"Kirin.output_dir = '{project / 'renders'}'  (from {project / 'pyproject.toml'}" \
            in config
        jobs = checked(kernel, "%kirin jobs")
        assert len(re.findall(r"^\s+\d+\s+completed", jobs, re.MULTILINE)) == 4
        spend = re.search(r"session spend: \$([0-9.]+)", jobs)
        assert spend is not None and float(spend.group(1)) > 0
        totals = checked(kernel, "print(p.jobs_view.totals.value, len(k.default_client().jobs))")
        assert f"session total ${spend.group(1)}" in totals and totals.strip().endswith(" 4")
        # The budget set with %config stops the Python API too, before anything is sent.
        checked(kernel, "%config Kirin.max_cost = 0.01")
        refused = kernel.run("k.generate('one more')")
        [error] = errors_of(refused)
        assert error["ename"] == "BudgetExceeded" and "max_cost $0.01" in error["evalue"]
        said = checked(kernel, "out = k.default_client().output_dir\n"
                               "print(len(k.default_client().jobs), out.name, "
                               "len(list(out.rglob('*.png'))))")
        assert said.split() == ["4", "renders", "7"]  # no fifth job; 2 + 2 + 2 + 1 files


def test_ctrl_c_while_waiting_is_one_line_and_the_job_goes_on(tmp_path: Path) -> None:
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS="4")
    with running_kernel(env=env, cwd=str(tmp_path)) as kernel:
        checked(kernel, "%load_ext kirin_jupyter\nimport kirin_jupyter as k")
        stopped = kernel.run("%%kirin --wait job\na fox", interrupt_after=0.5)
        assert not errors_of(stopped) and stopped.reply["content"]["status"] == "ok"
        assert text_of(stopped).strip() == STOPPED_WAITING
        said = checked(kernel, "print(job.status, job.done())")
        assert said.split() in (["queued", "False"], ["running", "False"])
        stopped = interrupted(kernel, "%kirin wait")
        assert not errors_of(stopped) and text_of(stopped).strip() == STOPPED_WAITING
        # Plain Python: job.wait() raises KeyboardInterrupt, as Python code expects.
        checked(kernel, "other = k.generate('a cat')")
        [error] = errors_of(interrupted(kernel, "other.wait()"))
        assert error["ename"] == "KeyboardInterrupt"
        said = checked(kernel, "print(len(job.wait(60).paths), len(other.wait(60).paths))")
        assert said.split() == ["1", "1"]  # both jobs went on


def interrupted(kernel: Kernel, code: str) -> Execution:
    """Cells that show nothing before they block: Ctrl-C one second in."""
    return kernel.run(code, 30, interrupt_in=1.0)


def test_ctrl_c_in_colab_mode_still_delivers_the_final_gallery(tmp_path: Path) -> None:
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS="3", COLAB_RELEASE_TAG="test")
    with running_kernel(env=env, cwd=str(tmp_path)) as kernel:
        checked(kernel, "%load_ext kirin_jupyter")
        stopped = kernel.run("%%kirin job\na fox", interrupt_after=0.5)  # blocks in Colab
        assert not errors_of(stopped) and text_of(stopped).strip() == STOPPED_WAITING
        [shown] = [m for m in stopped.of_type("display_data")
                   if m["content"].get("transient", {}).get("display_id")]
        display_id = shown["content"]["transient"]["display_id"]
        # The first cell that ends once the job is done (this one) brings the gallery.
        later = kernel.run("import time\nwhile not job.done(): time.sleep(0.1)")
        updates = [m for m in later.of_type("update_display_data")
                   if m["content"]["transient"]["display_id"] == display_id]
        assert updates, "the card never received its final gallery"
        html = updates[-1]["content"]["data"]["text/html"]
        assert "<img" in html and ">completed<" in html and "alt=\"result 1\"" in html
        again = kernel.run("pass")  # and only once: the hook is gone
        assert not again.of_type("update_display_data")
