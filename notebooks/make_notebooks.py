"""Write the notebooks in this folder from plain cell lists.

    python notebooks/make_notebooks.py

Keeping the sources here makes diffs readable and guarantees the committed notebooks carry
no outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

QUICKSTART = [
    ("markdown", """# Kirin in Jupyter: quick start

Runs on the built-in **simulator** when `KIRIN_API_KEY` is not set, so it works without an
account or a network. With `KIRIN_API_KEY` and `KIRIN_BASE_URL` set, the same cells call the
real service."""),
    ("code", "%load_ext kirin_jupyter"),
    ("markdown", """The cell body is the prompt; options go on the magic line. The cell returns at
once: the card below it keeps moving while you run other cells, and the images appear in
place when they are ready."""),
    ("code", """%%kirin fox --model omni -n 2 --ar 16:9
A watercolor of a red fox in a misty birch forest, soft morning light"""),
    ("markdown", "`kirin_v3_image` takes a negative prompt (text-to-image only):"),
    ("code", """%%kirin lighthouse --model v3 --res 1k --ar 3:2 --neg "people, text"
A lighthouse on a cliff at dusk, dramatic clouds, oil painting"""),
    ("markdown", "The kernel stays free while the jobs run:"),
    ("code", "sum(i * i for i in range(10**6))"),
    ("markdown", """Before the notebook ends (and always when it runs headless), wait for every job,
then use the results from Python."""),
    ("code", "%kirin wait"),
    ("code", """result = fox.wait()
print(result.paths)
print("cost:", result.cost)
result.images[0].size"""),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    for kind, source in cells:
        maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(maker(source))
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{index}"
    nbformat.write(nb, HERE / f"{name}.ipynb")


def main() -> None:
    write("quickstart", QUICKSTART)


if __name__ == "__main__":
    main()
