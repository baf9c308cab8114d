"""Performance properties pinned by fast tests (the numbers are in tests/benchmark.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from kirin_jupyter import thumbnails
from kirin_jupyter.client import Client
from kirin_jupyter.display.static import result_html


def test_load_ext_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "before = set(sys.modules)\n"
        "shell.run_line_magic('load_ext', 'kirin_jupyter')\n"
        "assert 'kirin' in shell.magics_manager.magics['cell']\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('httpx', 'PIL', 'ipywidgets', 'numpy', 'sqlite3', 'platformdirs')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_each_result_is_decoded_once(http_client: Client, monkeypatch) -> None:
    """The download check makes the thumbnail; the gallery does not decode the file again."""
    result = http_client.generate("a fox", n=3, resolution="2k").wait(30)
    opened: list[str] = []
    import PIL.Image

    real_open = PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(str(a[0])) or
                        real_open(*a, **k))
    html = result_html(result)
    assert html.count('<img src="data:image/jpeg;base64,') == 3
    assert opened == []
    for path in result.paths:
        jpeg = thumbnails.thumbnail_jpeg(path)
        assert jpeg[:2] == b"\xff\xd8" and len(jpeg) < 60_000


def test_the_static_rendering_is_small(http_client: Client) -> None:
    result = http_client.generate("nine foxes", n=9, resolution="2k").wait(30)
    size = len(json.dumps(result_html(result)))
    original = sum(p.stat().st_size for p in result.paths)
    assert size < 400_000 and size < original / 5
