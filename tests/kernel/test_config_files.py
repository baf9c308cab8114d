"""A real kernel loads the extension from ipython_config.py."""

from __future__ import annotations

import os
from pathlib import Path

from kirin_jupyter.magics.grammar import OPTIONS
from tests.conftest import write
from tests.kernel.kernel_helpers import running_kernel


def test_kernel_loads_extension_from_ipython_config(project: Path, tmp_path: Path) -> None:
    ipython_dir = tmp_path / "ipython"
    write(ipython_dir / "profile_default" / "ipython_config.py",  # kernels read it too
          'c.InteractiveShellApp.extensions = ["kirin_jupyter"]\n')
    write(project / "pyproject.toml", "[tool.kirin]\nn = 3\n")
    env = dict(os.environ, IPYTHONDIR=str(ipython_dir))
    with running_kernel(env=env, cwd=str(project / "notebooks")) as kernel:
        said = kernel.run("%kirin help")  # no %load_ext
        assert "Generate images with the Kirin API." in said.of_type("stream")[0]["content"]["text"]
        for code in ("%kirin?", "%%kirin?"):
            reply = kernel.run(code).reply["content"]
            [page] = [p["data"]["text/plain"] for p in reply["payload"] if p["source"] == "page"]
            for option in OPTIONS:
                for flag in option.flags:
                    assert flag in page, (code, flag)
        shown = kernel.run("%kirin config").of_type("stream")[0]["content"]["text"]
        assert f"Kirin.n = 3  (from {project / 'pyproject.toml'} [tool.kirin])" in shown
