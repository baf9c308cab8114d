"""Settings files ([tool.kirin], ~/.kirin/config.toml), %config Kirin, help, auto-loading."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from kirin_jupyter.config import files as config_files
from kirin_jupyter.magics.core import Kirin
from tests.conftest import TEST_KEY, write

SETTINGS = sorted(Kirin.class_traits(config=True))


@pytest.fixture
def shell_in(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """An IPython shell whose working folder is project/notebooks/drafts (not yet loaded)."""
    monkeypatch.chdir(project / "notebooks" / "drafts")
    ip = InteractiveShell.instance()
    yield ip
    ip.run_line_magic("unload_ext", "kirin_jupyter")
    InteractiveShell.clear_instance()


# -- reading the files -----------------------------------------------------------------

def test_pyproject_found_walking_up_with_kebab_keys_and_paths_beside_it(project: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.kirin]\n'
          'default-model = "v3"\nn = 3\ntimeout = 60\noutput_dir = "renders"\n'
          'blocking = true\n')
    write(project / "notebooks" / "pyproject.toml", '[tool.ruff]\nline-length = 90\n')
    loaded = config_files.load(cwd=project / "notebooks" / "drafts")
    assert loaded.problems == []
    assert loaded.values == {"default_model": "v3", "n": 3, "timeout": 60.0,
                             "output_dir": str(project / "renders"), "blocking": True}
    assert isinstance(loaded.values["timeout"], float)
    assert loaded.files == [project / "pyproject.toml"]
    assert loaded.sources["n"] == f"{project / 'pyproject.toml'} [tool.kirin]"


def test_home_file_from_kirin_config_and_pyproject_wins(project: Path, tmp_path: Path) -> None:
    home = write(tmp_path / "home-config.toml",
                 'n = 2\nresolution = "2k"\naspect_ratio = "4:3"\n')
    write(project / "pyproject.toml", "[tool.kirin]\nn = 3\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 3, "resolution": "2k", "aspect_ratio": "4:3"}
    assert loaded.sources["resolution"] == str(home)
    assert loaded.files == [home, project / "pyproject.toml"]
    assert config_files.home_config_path({}) == Path.home() / ".kirin" / "config.toml"
    assert config_files.home_config_path({"KIRIN_CONFIG": str(home)}) == home


@pytest.mark.parametrize(("line", "message"), [
    ('resolutoin = "2k"', "unknown setting 'resolutoin' (did you mean 'resolution'?); ignored"),
    ("defualt-model = 'v3'", "unknown setting 'defualt-model' (did you mean 'default_model'?)"),
    ("colour = 'red'", "unknown setting 'colour'; ignored"),
    ("n = 'four'", "n = 'four': needs a whole number, not str; ignored"),
    ("n = true", "n = True: needs a whole number, not bool; ignored"),
    ("n = 12", "n = 12: must be between 1 and 9; ignored"),
    ("timeout = 0", "timeout = 0: must be more than 0; ignored"),
    ("max_cost = -1", "max_cost = -1: must be 0 (no limit) or more; ignored"),
    ("blocking = 'yes'", "blocking = 'yes': needs true or false, not str; ignored"),
    ("default_model = 'v4'", "default_model = 'v4': unknown model 'v4'; choose one of"),
    ("resolution = '8k'", "resolution = '8k': choose one of: 1k, 2k, 4k; ignored"),
    ("aspect_ratio = '5:4'", "aspect_ratio = '5:4': choose one of: , 16:9"),
    ("base_url = 'kirin.example'", "must be vtrix or seacloud, or start with http:// or https://"),
    ("task_path = '/v1/tasks'", "task_path = '/v1/tasks': must contain {id}; ignored"),
])
def test_a_bad_key_or_value_is_one_clear_line(tmp_path: Path, project: Path, line: str,
                                              message: str) -> None:
    path = write(tmp_path / "home-config.toml", f"{line}\ncreate_path = '/api/tasks'\n")
    loaded = config_files.load(cwd=project)
    [problem] = loaded.problems
    assert problem.startswith(f"kirin: {path}: ") and message in problem
    assert "\n" not in problem
    assert loaded.values == {"create_path": "/api/tasks"}  # the rest of the file applies


def test_a_project_file_cannot_turn_on_uploads_nor_choose_their_host(project: Path) -> None:
    """Uploading references sends the key to a second host: a cloned repository's
    pyproject.toml may choose neither whether nor where; the user's own file may."""
    write(project / "pyproject.toml", "[tool.kirin]\nupload_references = 'always'\n"
          "upload-url = 'https://evil.example/files'\nn = 2\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 2}
    assert len(loaded.problems) == 2
    assert all("a project file may not choose where your key is sent" in problem
               for problem in loaded.problems)
    write(Path(os.environ["KIRIN_CONFIG"]), "upload_references = 'reused'\n")
    assert config_files.load(cwd=project).values["upload_references"] == "reused"


def test_a_project_file_cannot_choose_where_the_key_goes(project: Path) -> None:
    """A cloned repository's pyproject.toml must not send the user's key to its server."""
    path = write(project / "pyproject.toml", "[tool.kirin]\nbase_url = 'https://evil.example'\n"
                 "task_path = '/x/{id}'\ncreate-path = '/x'\nn = 2\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 2}
    assert len(loaded.problems) == 3
    for problem in loaded.problems:
        assert problem.startswith(f"kirin: {path} [tool.kirin]: ")
        assert "a project file may not choose where your key is sent" in problem


def test_the_key_is_never_read_from_a_file_and_never_echoed(tmp_path: Path, project: Path) -> None:
    write(tmp_path / "home-config.toml", f'api_key = "{TEST_KEY}"\nn = 2\n')
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 2}
    [problem] = loaded.problems
    assert "the API key is never read from a file" in problem and TEST_KEY not in problem


def test_unreadable_files_are_reported_not_raised(tmp_path: Path, project: Path) -> None:
    write(tmp_path / "home-config.toml", "n = = 2\n")
    write(project / "pyproject.toml", "[tool]\nkirin = 3\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {}
    assert len(loaded.problems) == 2
    assert loaded.problems[0].startswith(f"kirin: cannot read {tmp_path / 'home-config.toml'}: ")
    assert loaded.problems[0].endswith("its settings are ignored")
    assert loaded.problems[1] == f"kirin: {project / 'pyproject.toml'}: [tool.kirin] must be a table; ignored"


# -- in IPython --------------------------------------------------------------------------

def test_load_ext_applies_files_under_config_and_warns_without_crashing(
    shell_in: InteractiveShell, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "home-config.toml", 'resolution = "2k"\nn = 2\n')
    write(project / "pyproject.toml", '[tool.kirin]\ndefault_model = "v3"\nn = 3\n'
          'aspect-ratio = "1:1"\nresolutoin = "1k"\n')
    shell_in.run_line_magic("load_ext", "kirin_jupyter")
    err = capsys.readouterr().err
    assert err == (f"kirin: {project / 'pyproject.toml'} [tool.kirin]: unknown setting "
                   "'resolutoin' (did you mean 'resolution'?); ignored\n")
    shell_in.run_cell_magic("kirin", "d --dry-run", "a fox")
    body = capsys.readouterr().out
    for part in ('"model": "kirin_v3_image"', '"n": 3', '"resolution": "2k"',
                 '"aspect_ratio": "1:1"'):
        assert part in body, part
    shell_in.run_line_magic("config", "Kirin.n = 4")  # %config wins over the files
    shell_in.run_line_magic("kirin", "config")
    out = capsys.readouterr().out
    assert "Kirin.n = 4  (from %config)\n" in out
    assert f"Kirin.default_model = 'v3'  (from {project / 'pyproject.toml'} [tool.kirin])" in out
    assert f"Kirin.resolution = '2k'  (from {tmp_path / 'home-config.toml'})" in out
    assert "did you mean 'resolution'" in out  # the warning is repeated here


def test_ipython_config_wins_over_the_files(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "pyproject.toml", "[tool.kirin]\nn = 3\nresolution = '2k'\n")
    monkeypatch.chdir(project)
    config = Config()
    config.Kirin.n = 5  # as c.Kirin.n = 5 in ipython_config.py
    ip = InteractiveShell.instance(config=config)
    try:
        ip.run_line_magic("load_ext", "kirin_jupyter")
        resolved = ip.magics_manager.registry["KirinMagics"].session.settings()
        assert (resolved.n, resolved.resolution) == (5, "2k")
        assert resolved.source("n") == "%config"
        assert resolved.source("resolution") == f"{project / 'pyproject.toml'} [tool.kirin]"
    finally:
        ip.run_line_magic("unload_ext", "kirin_jupyter")
        InteractiveShell.clear_instance()


def test_config_kirin_lists_every_setting_never_the_key(
    shell_in: InteractiveShell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    monkeypatch.setenv("KIRIN_BASE_URL", "http://127.0.0.1:9")
    shell_in.run_line_magic("load_ext", "kirin_jupyter")
    shell_in.run_line_magic("config", "Kirin")
    shell_in.run_line_magic("kirin", "config")
    out = capsys.readouterr().out
    assert len(SETTINGS) == 29
    for name in SETTINGS:
        assert f"Kirin.{name}=" in out and f"Kirin.{name} = " in out, name
    assert TEST_KEY not in out and "api key:    set (from $KIRIN_API_KEY)" in out


# -- a real kernel that loads the extension from IPython's config ------------------------



# -- one client for the session --------------------------------------------------------

