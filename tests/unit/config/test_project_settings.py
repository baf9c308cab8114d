"""A project's pyproject.toml may only tighten safety settings (issue 22 B).

Any cloned repository can carry ``[tool.kirin]``. Before, its ``max_cost = 0`` switched the
user's own budget off, and it could raise every limit and the resends. Now the budget, the
limits and the resends (``settings.SAFETY_NAMES``) may only be tightened there, below what
the defaults and the user's own file say; a loosening value is ignored, in one line that
``%kirin config`` repeats. The user's own layers (``~/.kirin/config.toml`` or
``$KIRIN_CONFIG``, the environment, ``%config``, arguments) set anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.config import files as config_files


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cloned project with a notebook folder; the user's own file is a temp file."""
    root = tmp_path / "cloned"
    (root / "notebooks").mkdir(parents=True)
    monkeypatch.setenv("KIRIN_CONFIG", str(tmp_path / "home-config.toml"))
    return root


@pytest.fixture
def shell_in(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(project / "notebooks")
    ip = InteractiveShell.instance()
    yield ip
    ip.run_line_magic("unload_ext", "kirin_jupyter")
    InteractiveShell.clear_instance()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _home(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "home-config.toml", text)


def _pyproject(project: Path, text: str) -> Path:
    return write(project / "pyproject.toml", f"[tool.kirin]\n{text}")


def test_a_project_cannot_lift_or_raise_the_users_budget(project: Path, tmp_path: Path) -> None:
    home = _home(tmp_path, "max_cost = 5\nmax_credits = 400\n")
    path = _pyproject(project, "max_cost = 0\nmax-credits = 4000\n")
    loaded = config_files.load(cwd=project / "notebooks")
    assert loaded.values == {"max_cost": 5.0, "max_credits": 400.0}  # the user's own
    assert loaded.sources["max_cost"] == str(home)
    lifted, raised = loaded.problems
    assert lifted == (
        f"kirin: {path} [tool.kirin]: max_cost = 0 ignored: a project file may only tighten "
        f"safety settings, and 0 (no limit) would lift your limit (5.0 from {home}); set it "
        "in ~/.kirin/config.toml or with %config Kirin.max_cost")
    assert raised.startswith(f"kirin: {path} [tool.kirin]: max_credits = 4000 ignored: ")
    assert "it may lower max_credits, not raise it (400.0 from " in raised
    assert all("\n" not in line for line in loaded.problems)


def test_a_project_may_set_or_lower_a_budget(project: Path, tmp_path: Path) -> None:
    _home(tmp_path, "max_cost = 5\n")
    path = _pyproject(project, "max_cost = 2\nmax_credits = 300\n")
    loaded = config_files.load(cwd=project)
    assert loaded.problems == []
    assert loaded.values == {"max_cost": 2.0, "max_credits": 300.0}  # none was set: a limit
    assert loaded.sources["max_credits"] == f"{path} [tool.kirin]"


@pytest.mark.parametrize(("line", "kept"), [
    ("max_result_mb = 1000", "the default 64.0"),
    ("max_answer_mb = 400", "the default 4.0"),
    ("max_result_megapixels = 4000", "the default 40.0"),
    ("request_seconds = 86400", "the default 300.0"),
    ("max_sweep_cells = 100000", "the default 256"),
    ("create_resends = 5", "the default 1"),
])
def test_a_project_cannot_raise_a_limit_or_the_resends(project: Path, line: str,
                                                       kept: str) -> None:
    path = _pyproject(project, f"{line}\nn = 2\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 2}  # the rest of the table applies
    [problem] = loaded.problems
    name = line.split(" = ")[0]
    assert problem.startswith(f"kirin: {path} [tool.kirin]: {line} ignored: a project file "
                              "may only tighten safety settings, and it may lower "
                              f"{name}, not raise it ({kept}); ")


def test_a_project_may_lower_the_limits_and_the_resends(project: Path) -> None:
    _pyproject(project, "max_result_mb = 8\nmax_answer_mb = 1\nmax_result_megapixels = 12\n"
               "request_seconds = 60\nmax_sweep_cells = 16\ncreate_resends = 0\n"
               "timeout = 3600\n")  # not a safety setting: when to stop waiting
    loaded = config_files.load(cwd=project)
    assert loaded.problems == []
    assert loaded.values == {"max_result_mb": 8.0, "max_answer_mb": 1.0,
                             "max_result_megapixels": 12.0, "request_seconds": 60.0,
                             "max_sweep_cells": 16, "create_resends": 0, "timeout": 3600.0}


def test_the_users_own_file_may_loosen_and_a_project_is_held_to_it(project: Path,
                                                                   tmp_path: Path) -> None:
    home = _home(tmp_path, "max_result_mb = 500\ncreate_resends = 3\n")
    _pyproject(project, "max_result_mb = 400\ncreate_resends = 4\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values["max_result_mb"] == 400.0  # below the user's 500: tighter
    assert loaded.values["create_resends"] == 3  # the user's; the project's 4 is more
    assert loaded.sources["create_resends"] == str(home)
    [problem] = loaded.problems
    assert f"it may lower create_resends, not raise it (3 from {home})" in problem


def test_in_ipython_the_budget_holds_and_kirin_config_says_who_tried(
    shell_in: InteractiveShell, project: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = _home(tmp_path, "max_cost = 0.10\n")
    path = _pyproject(project, 'max_cost = 0\nmax_result_mb = 4096\ndefault_model = "v3"\n')
    shell_in.run_line_magic("load_ext", "kirin_jupyter")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith(f"kirin: {path} [tool.kirin]: ")
                                 for line in err)
    assert "max_cost = 0 ignored" in err[0] and "max_result_mb = 4096 ignored" in err[1]
    session = shell_in.magics_manager.registry["KirinMagics"].session
    client = session.client()
    assert client.max_cost == Decimal("0.1")  # the user's budget still holds
    assert client.api.limits.result_bytes == 64 * 1_000_000  # the default limit too
    shell_in.run_line_magic("kirin", "config")
    out = capsys.readouterr().out
    assert f"Kirin.max_cost = 0.1  (from {home})" in out
    assert "Kirin.max_result_mb = 64.0  (from default)" in out
    assert f"Kirin.default_model = 'v3'  (from {path} [tool.kirin])" in out  # not safety
    assert "budget:     max_cost $0.1" in out
    for line in err:  # which file tried what, one line each, repeated here
        assert f"\n{line}\n" in out
    shell_in.run_line_magic("config", "Kirin.max_cost = 0")  # the user's own choice wins
    assert session.client().max_cost is None


def test_a_project_may_keep_more_out_of_the_files_never_less(
        project: Path, tmp_path: Path) -> None:
    """``provenance`` is a privacy setting (issue 28): a cloned project may ask for less in
    the files (minimal, off), never put the prompt back in against the user's choice."""
    home = _home(tmp_path, 'provenance = "minimal"\n')
    path = _pyproject(project, 'provenance = "full"\n')
    loaded = config_files.load(cwd=project / "notebooks")
    assert loaded.values == {"provenance": "minimal"} and loaded.sources["provenance"] == str(home)
    [refused] = loaded.problems
    assert refused.startswith(f"kirin: {path} [tool.kirin]: provenance = 'full' ignored: ")
    assert "it may keep more out of the files ('minimal'), not less" in refused
    _pyproject(project, 'provenance = "off"\n')
    loaded = config_files.load(cwd=project / "notebooks")
    assert loaded.values == {"provenance": "off"} and not loaded.problems
