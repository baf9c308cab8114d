"""Write the notebooks in this folder from plain cell lists.

    python notebooks/make_notebooks.py

Keeping the sources here makes diffs readable and guarantees the committed notebooks carry
no outputs (tests/test_notebooks.py checks that the committed files are exactly these).

Every notebook runs top to bottom on the built-in simulator (no key) and, unchanged, on a
real service when KIRIN_API_KEY and KIRIN_BASE_URL are set; each ends with ``%kirin wait``
so that a headless run (nbclient, papermill) keeps the kernel until the images are in.
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


MODELS = [
    ("markdown", """# Every parameter of both models

Each option of `%%kirin` is used once below, for `kirin_image_omni` (omni) and
`kirin_v3_image` (v3), then the same from Python. `%kirin help` lists them all.

Without `KIRIN_API_KEY` the built-in **simulator** answers (free, no network). With
`KIRIN_API_KEY` and `KIRIN_BASE_URL` set, the same cells call the real service and cost
money: five generations, about a dozen images."""),
    ("code", "%load_ext kirin_jupyter"),
    ("code", "%kirin models"),
    ("markdown", """## Reference images

Made here with Pillow. Two are saved to files (`reference_images/`), the third stays in
memory in the variable `sketch` and is passed as `$sketch`. The service takes JPEG or PNG,
at least 300 px a side, aspect ratio between 1:2.5 and 2.5:1, at most 10 MB (`--fit` mends
an image that breaks a rule)."""),
    ("code", """from pathlib import Path

from PIL import Image, ImageDraw

folder = Path("reference_images")
folder.mkdir(exist_ok=True)

cat = Image.new("RGB", (640, 480), "#7fb069")  # an orange cat on grass, saved as PNG
draw = ImageDraw.Draw(cat)
draw.ellipse((220, 160, 420, 400), fill="#d9822b")
draw.polygon([(250, 180), (275, 95), (310, 170)], fill="#d9822b")
draw.polygon([(330, 170), (365, 95), (390, 180)], fill="#d9822b")
cat.save(folder / "cat.png")

hat = Image.new("RGB", (512, 512), "white")  # a blue hat, saved as JPEG
draw = ImageDraw.Draw(hat)
draw.rectangle((96, 330, 416, 370), fill="#1f4e79")
draw.rectangle((166, 140, 346, 330), fill="#1f4e79")
draw.rectangle((166, 290, 346, 315), fill="#c9a227")
hat.save(folder / "hat.jpg", quality=90)

sketch = Image.new("RGB", (400, 600), "white")  # a stick-figure pose, kept in memory
draw = ImageDraw.Draw(sketch)
draw.ellipse((170, 60, 230, 120), outline="black", width=5)
for line in [(200, 120, 200, 330), (200, 180, 120, 110), (200, 180, 290, 240),
             (200, 330, 140, 520), (200, 330, 260, 520)]:
    draw.line(line, fill="black", width=5)

sorted(p.name for p in folder.iterdir()), sketch.size"""),
    ("markdown", """## omni, text to image: `-n`, `--res`, `--ar`

`-n` images (1 to 9), `--res` `1k` or `2k`, `--ar` one of 16:9 9:16 1:1 4:3 3:4 3:2 2:3
21:9, or `auto` (omni's default). `city` will hold the `Job`."""),
    ("code", """%%kirin city -m omni -n 2 --res 2k --ar 21:9
A panoramic view of a harbour town at blue hour, lights reflected in the water"""),
    ("markdown", """## omni, image to image: `-i` and `<<<image_N>>>`

Up to 10 reference images, each with `-i`: a path, an http(s) URL (sent as the URL, so the
service must be able to fetch it) or `$name`, a variable holding a PIL image, a numpy array
or bytes. The prompt names them `<<<image_1>>>`, `<<<image_2>>>`, ... in the order of the
`-i` options. With reference images, `--ar auto` follows their shape."""),
    ("code", "%%kirin knight -m omni -i reference_images/cat.png -i reference_images/hat.jpg"
             " -i $sketch --ar auto\n"
             "The cat from <<<image_1>>> wearing the hat from <<<image_2>>>, standing in the pose"
             " of <<<image_3>>>, storybook illustration"),
    ("markdown", """## v3: `--neg`, `--watermark`, `--id`, `--callback-url`

- `--neg`: what to avoid (v3, text to image only).
- `--watermark`: the service also makes watermarked copies (`--no-watermark`: it does not).
- `--id`: your own task id, unique in your account. Run this cell twice: the second run
  finds the task the first one created, follows it and downloads its images. Nothing is
  billed twice.
- `--callback-url`: the service notifies that address whenever the status changes (here
  example.com, a reserved domain; put your own endpoint). The notebook still polls."""),
    ("code", '%%kirin owl -m v3 --ar 3:4 --neg "blurry, text" --watermark'
             " --id models-notebook-owl-1 --callback-url https://example.com/kirin-callback\n"
             "A snowy owl on a fence post in falling snow, telephoto photograph"),
    ("markdown", """## v3, image to image

v3 takes one reference image; it has no `<<<image_N>>>` and no negative prompt then."""),
    ("code", """%%kirin bronze -m v3 -i reference_images/hat.jpg --ar 1:1
The hat as a bronze sculpture on a museum plinth, soft spotlight"""),
    ("markdown", """## v3 subject elements, and `--dry-run`

`-e` adds a subject from your subject library by its id (v3; elements and reference images
together at most 10). Element ids belong to an account, so this cell is a `--dry-run`: it
checks every rule and prints the exact request (key redacted, base64 shortened) without
sending anything. Put your own ids and remove `--dry-run` to generate."""),
    ("code", """%%kirin --dry-run -m v3 -e 1001 -e 1002 -n 4 --res 2k --ar 16:9 --no-watermark
The two subjects having a picnic by a lake, golden hour"""),
    ("markdown", """## The same from Python

`kirin_jupyter.generate()` takes every option as a keyword and returns the `Job` at once;
`Client.build()` checks a request without sending it (the Python dry run)."""),
    ("code", """import kirin_jupyter

job = kirin_jupyter.generate(
    "<<<image_1>>> carved from wood, in the pose of <<<image_2>>>",
    model="kirin_image_omni",        # or "omni"; "kirin_v3_image" or "v3"
    images=[folder / "cat.png", sketch],  # paths, URLs, PIL images, numpy arrays, bytes
    n=2,
    resolution="1k",
    aspect_ratio="4:3",
    watermark=False,
    external_task_id=None,           # None: one is generated
)
print(job)"""),
    ("code", """request = kirin_jupyter.default_client().build(
    "The two subjects having a picnic by a lake, golden hour",
    model="kirin_v3_image",
    negative_prompt="rain",
    elements=[1001, 1002],
    n=4,
    resolution="2k",
    aspect_ratio="16:9",
    watermark=True,
    callback_url="https://example.com/kirin-callback",
    external_task_id="my-order-42",
)
request.dry_run_body()"""),
    ("markdown", "## Wait for every job, then use the results"),
    ("code", "%kirin wait"),
    ("code", """jobs = {"city": city, "knight": knight, "owl": owl, "bronze": bronze, "python": job}
for name, each in jobs.items():
    result = each.wait()
    print(f"{name:<7} {result.model:<17} {len(each.request.images)} reference image(s)  "
          f"{len(result.paths)} file(s)  cost ${result.cost}")
knight.wait().images[0].size"""),
]

BATCH = [
    ("markdown", """# A batch of prompts from Python

`Client.generate()` returns at once, so a list of prompts runs together in the background
(one engine thread, pooled connections; `429 Too Many Requests` answers are waited out).
Runs on the simulator without a key; with `KIRIN_API_KEY` and `KIRIN_BASE_URL` set, on the
real service (five images)."""),
    ("code", """%load_ext kirin_jupyter
import kirin_jupyter as kirin

prompts = [
    "A red fox asleep in fresh snow, morning light",
    "A lighthouse on a rocky coast in a storm, oil painting",
    "A bowl of ramen seen from above, studio photograph",
    "A paper boat on a rain puddle, macro",
    "A greenhouse on Mars at dusk, concept art",
]
client = kirin.Client()  # reads KIRIN_API_KEY / KIRIN_BASE_URL; neither: the simulator
client"""),
    ("code", """jobs = [client.generate(prompt, model="kirin_v3_image", aspect_ratio="1:1")
        for prompt in prompts]
for job in jobs:
    print(job)"""),
    ("markdown", """Collect the results. A job that failed raises its error from `wait()`: keep the
error and go on with the others."""),
    ("code", """results, failures = {}, {}
for prompt, job in zip(prompts, jobs):
    try:
        results[prompt] = job.wait()
    except kirin.KirinError as exc:
        failures[prompt] = exc
print(f"{len(results)} completed, {len(failures)} failed")"""),
    ("markdown", """## Gallery

A `Result` shows itself as thumbnails with the paths of the saved files and the cost."""),
    ("code", """from IPython.display import display

for result in results.values():
    display(result)"""),
    ("markdown", "## Total cost"),
    ("code", """from decimal import Decimal

total = sum((r.cost for r in results.values() if r.cost is not None), Decimal(0))
images = sum(len(r.paths) for r in results.values())
print(f"total cost: ${total} for {images} images")
print(f"the client's own count: ${client.session_spend()}")"""),
    ("markdown", """## The results as a table

Plain Python and a little HTML; no pandas needed (with pandas: `pandas.DataFrame(rows)`)."""),
    ("code", """from html import escape

from IPython.display import HTML

rows = []
for prompt, job in zip(prompts, jobs):
    result = results.get(prompt)
    rows.append({
        "prompt": prompt,
        "status": job.status,
        "task id": job.task_id or "-",
        "seconds": f"{job.elapsed:.1f}",
        "images": len(result.paths) if result else 0,
        "cost": f"${result.cost}" if result and result.cost is not None else "-",
        "file": str(result.paths[0]) if result else str(failures.get(prompt, "")),
    })


def html_table(rows):
    head = "".join(f"<th>{escape(name)}</th>" for name in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(value))}</td>" for value in row.values()) + "</tr>"
        for row in rows
    )
    return HTML(f"<table><tr>{head}</tr>{body}</table>")


html_table(rows)"""),
    ("markdown", """Every job is done already; `%kirin wait` confirms it (and ends any notebook that
runs jobs in the background)."""),
    ("code", "%kirin wait"),
]

HISTORY = [
    ("markdown", """# History, show and resume

Every job is written to a journal (SQLite, in `KIRIN_HOME`) before its request is sent, and
kept up to date while it runs. The journal is shared by every kernel on this machine and
outlives them."""),
    ("code", "%load_ext kirin_jupyter"),
    ("markdown", """Two jobs to look at. The first gets an id of its own with `--id`, to find it by
later (ids are unique per account: run it again and the same task is found, not a new one)."""),
    ("code", """%%kirin boat --id history-notebook-boat -n 2 --ar 1:1
A paper boat on a rain puddle, macro photograph"""),
    ("code", """%%kirin kite -m v3 --ar 3:2
A red kite above a windy beach, watercolor"""),
    ("code", "%kirin wait"),
    ("markdown", """## `%kirin history [N] [--page P] [--model M] [--failed] [--search WORD]`

The last N generations (20 when N is left out), newest first, one line each: thumbnails
from the files on disk, prompt, model, state, cost, date and task id. `--page 2` shows the
next N; `--model v3`, `--failed` and `--search kite` keep only the matching jobs."""),
    ("code", "%kirin history 5"),
    ("code", "%kirin history --model v3 --search kite"),
    ("markdown", """## `%kirin show TASK_ID`

One job, by its task id or by your own external id:"""),
    ("code", "%kirin show history-notebook-boat"),
    ("markdown", """The magic line is taken exactly as typed (no `{...}` or `$name` expansion), so
to show a task id held in a variable, call the magic from Python:"""),
    ("code", """get_ipython().run_line_magic("kirin", f"show {kite.task_id}")"""),
    ("markdown", """## After a restart: `%kirin resume` and `kirin_jupyter.resume()`

If the kernel restarts or crashes while jobs run, the journal still knows them. In the new
kernel, `%kirin resume` follows every job that no running kernel follows any more: unfinished
tasks are polled again and completed ones downloaded. It never creates a task, so it never
costs money; a job whose request never reached the service is reported as `not_created`.
`kirin_jupyter.resume()` does the same from Python and returns the `Job`s.

Here every job has finished, so there is nothing to resume:"""),
    ("code", "%kirin resume"),
    ("code", """import kirin_jupyter

resumed = kirin_jupyter.resume()  # the Jobs it follows again
print(f"{len(resumed)} job(s) resumed")"""),
    ("markdown", """To see it work, the service has to outlive the kernel: the simulator built into
the kernel does not. Run it as a server in a terminal,
`python -m kirin_jupyter.simulator --port 8765 --seconds 30`, start Jupyter with
`KIRIN_BASE_URL=http://127.0.0.1:8765`, start a `%%kirin` cell, restart the kernel while
its card moves, then run `%load_ext kirin_jupyter` and `%kirin resume`.

Jobs that `%kirin resume` follows run in the background like any other; wait for them
before a notebook ends:"""),
    ("code", "%kirin wait"),
]

PANEL = [
    ("markdown", """# The panel: `%kirin ui`

A form for everything `%%kirin` does: pick the model, write the prompt, set the options
(only those the chosen model takes), add reference images, and press Generate. Every rule
is checked as you type, before anything is sent. Each job gets its progress card in the
panel, and the panel shows the `%%kirin` cell that would do the same, to paste into the
notebook.

Runs on the simulator without a key; with `KIRIN_API_KEY` and `KIRIN_BASE_URL` set, on the
real service."""),
    ("code", "%load_ext kirin_jupyter"),
    ("code", "%kirin ui"),
    ("markdown", """Jobs started from the panel run in the background like `%%kirin` cells; in a
notebook that runs headless, wait for them before it ends:"""),
    ("code", "%kirin wait"),
]

NOTEBOOKS = {
    "quickstart": QUICKSTART,
    "models": MODELS,
    "batch": BATCH,
    "history": HISTORY,
    "panel": PANEL,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """The notebook ``name`` with no outputs and stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    for kind, source in cells:
        maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(maker(source))
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{index}"
    return nb


def write(name: str, cells: list[tuple[str, str]], folder: Path = HERE) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(build(name, cells), path)
    return path


def main(folder: Path = HERE) -> None:
    for name, cells in NOTEBOOKS.items():
        write(name, cells, folder)


if __name__ == "__main__":
    main()
