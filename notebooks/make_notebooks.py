"""Write the notebooks in this folder from plain cell lists.

    python notebooks/make_notebooks.py

Keeping the sources here makes diffs readable and guarantees the committed notebooks carry
no outputs (tests/kernel/test_notebooks.py checks that the committed files are exactly these).

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
    ("markdown", """# Batches: many prompts as one

A batch sends a whole list of prompts to Kirin and keeps them together: one card counts how
many are queued, running, done and failed, with the cost and the time left, and ends as a
small gallery of the results. The cell returns at once, so you can keep working meanwhile.

The prompts can be a Python list, a CSV file or a pandas table. A batch with a name can be
stopped and run again later: what is done is kept, and nothing is paid for twice.

Runs on the built-in **simulator** when `KIRIN_API_KEY` is not set (free, no network). With
`KIRIN_API_KEY` and `KIRIN_BASE_URL` set, the same cells call the real service and cost
money: about 60 images."""),
    ("code", """%load_ext kirin_jupyter
import kirin_jupyter as kirin

client = kirin.default_client()  # the client the %kirin magics use too"""),
    ("markdown", """## A list of prompts

`client.batch()` checks every prompt and prices the whole batch before it sends anything,
then returns at once. Options given after the prompts (here `aspect_ratio`) apply to every
item. As a cell's value (or with `display(batch)`) the batch shows its live card, which
turns into the final card, with the pictures, when the last item is in."""),
    ("code", """prompts = [
    "A red fox asleep in fresh snow, watercolor",
    "A lighthouse on a rocky coast in a storm, oil painting",
    "A bowl of ramen seen from above, studio photograph",
    "A paper boat on a rain puddle, macro",
    "A greenhouse on Mars at dusk, concept art",
    "An owl on a fence post in falling snow",
]
batch = client.batch(prompts, aspect_ratio="1:1")
batch"""),
    ("markdown", """`wait()` blocks until every item is done and gives the results in the order
of the prompts (`None` for an item that failed)."""),
    ("code", """results = batch.wait()
print(batch)
print("first:", results[0].prompt, "->", results[0].paths[0].name)
results[0].images[0].size"""),
    ("markdown", """## From a CSV file

One row per prompt. Other columns set that item's options, named as in Python: `n`,
`aspect_ratio`, `model`, `negative_prompt`, ... An empty cell takes the default (or the
option given on the magic line). This cell writes a small file to try it:"""),
    ("code", """import csv

rows = [  # prompt, n, aspect_ratio ("": the default)
    ("A red enamel kettle on a marble counter, product photo", 2, "1:1"),
    ("A blue ceramic mug with rising steam, product photo", 1, "1:1"),
    ("A green desk lamp on a walnut desk, product photo", 2, "4:3"),
    ("A copper pan hanging on a tiled wall, product photo", 1, ""),
]
with open("products.csv", "w", newline="", encoding="utf-8") as file:
    writer = csv.writer(file)
    writer.writerow(["prompt", "n", "aspect_ratio"])
    writer.writerows(rows)
print(open("products.csv", encoding="utf-8").read())"""),
    ("markdown", """`--dry-run` reads and checks the file and says what it would cost; nothing is
sent:"""),
    ("code", "%kirin batch products.csv --dry-run"),
    ("markdown", """Now for real. `--wait` keeps the cell busy until the batch ends (without it
the cell returns at once, as above); the batch is kept in the variable `_kirin_batch`."""),
    ("code", "%kirin batch products.csv --name products --wait"),
    ("code", """products = _kirin_batch
for result in products.results:
    print(f"{len(result.paths)} image(s)  {result.options['aspect_ratio']:<5} {result.prompt}")"""),
    ("markdown", """## From a pandas DataFrame

The same: a `prompt` column and any option columns (an empty cell takes the default)."""),
    ("code", """import pandas as pd

frame = pd.DataFrame({
    "prompt": ["A log cabin in a pine forest, winter", "A log cabin by a lake, summer",
               "A log cabin in the desert, at night"],
    "aspect_ratio": ["16:9", "16:9", None],
})
cabins = client.batch(frame, name="cabins", model="kirin_v3_image")
cabins.wait()
cabins"""),
    ("markdown", """## Stop, and go on later

`stop()` sends no new requests; the items already sent are finished (they are paid for).
Running the batch again **under the same name** reuses every item that is done and makes
only the rest. It works after a kernel restart or a crash too: the batch is written to a
journal on disk before anything is sent.

Here a batch of 12 posters is stopped once a few are done:"""),
    ("code", """import time

cities = ["Lisbon", "Kyoto", "Reykjavik", "Cusco", "Marrakesh", "Tallinn",
          "Hanoi", "Valparaiso", "Quebec", "Tbilisi", "Zanzibar", "Bergen"]
posters = [f"A travel poster of {city}, art deco style" for city in cities]
first = client.batch(posters, name="posters", concurrency=2)
while first.counts()["done"] < 3 and not first.done():  # let a few finish...
    time.sleep(0.1)
first.stop()  # ...then stop
first.wait()
print(first)
print(f"sent {first.creates} of {len(first)}")"""),
    ("markdown", "The same prompts and name again: it picks up where it stopped."),
    ("code", """again = client.batch(posters, name="posters", concurrency=2)
again.wait()
print(f"{again.reused} found done (not bought again), {again.creates} made now")
again"""),
    ("markdown", """## A bigger batch: the gallery's pages

The final card shows the first 24 pictures, so a batch of hundreds stays a small notebook.
`batch.page(2)`, or `%kirin batch show NAME --page 2`, shows the next ones."""),
    ("code", """tiles = client.batch([f"A hand-painted ceramic tile, pattern number {i}, top view"
                      for i in range(1, 31)], name="tiles", model="kirin_v3_image",
                     aspect_ratio="1:1")
tiles"""),
    ("code", """tiles.wait()
tiles.page(2)  # the same as: %kirin batch show tiles --page 2"""),
    ("markdown", """## When an item fails

The others go on; the final card lists what failed and why, `batch.failed` gives
(index, prompt, reason) for each, and `batch.retry_failed()` sends those again. The
simulator can be asked to fail a task, to see what that looks like (on the real service
this cell asks nothing of the kind):"""),
    ("code", """from IPython.display import display

if client.simulated:  # the next task the simulator makes will fail
    from kirin_jupyter.simulator.service import Fault

    client.simulator.add_fault(Fault("create", "fail_task", code="002016095", times=1))
shaky = client.batch(["A glass of lemonade in the sun", "A bicycle against a yellow wall"],
                     name="shaky", concurrency=1)
shaky.wait()
display(shaky)
shaky.failed"""),
    ("code", """shaky.retry_failed().wait()
print(shaky)
shaky.failed"""),
    ("markdown", """## A table, and the cost

`records()` gives one dict per item; `to_frame()` the same as a pandas DataFrame.
`cost` is what the items done so far cost; `price` is what the batch was quoted before it
started."""),
    ("code", """table = tiles.to_frame()
table[["index", "prompt", "state", "task_id", "cost"]].head()"""),
    ("code", """for each in (batch, products, cabins, again, tiles, shaky):
    print(f"{each.name:<26} {len(each):>3} items  quoted ${each.price}  cost ${each.cost}")
print(f"the client's own count: ${client.session_spend()}")"""),
    ("markdown", """Every batch here is finished; `%kirin wait` confirms it (and keeps a notebook
that runs headless open until background work is done)."""),
    ("code", "%kirin wait"),
    ("markdown", "The CSV file was only for this tour:"),
    ("code", """import os

os.remove("products.csv")"""),
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

WORKFLOWS = [
    ("markdown", """# Workflows: provenance, lineage, sweeps, compare, export

What happens around the pictures: each saved file says how it was made, a result can be the
next one's reference (and the chain is kept), a grid of settings is priced before it is
bought, two results can be compared in place, and everything can be handed to a colleague
as one file.

Runs on the built-in **simulator** when `KIRIN_API_KEY` is not set (free, no network). With
`KIRIN_API_KEY` and `KIRIN_BASE_URL` set, the same cells call the real service and cost
money: about 20 images."""),
    ("code", """%load_ext kirin_jupyter
import kirin_jupyter as kirin"""),
    ("markdown", """## Every file says how it was made

Each saved picture carries its own record: the model, the prompt and every option, the task
and external ids, the cost, the times, the SHA-256 of each reference and the package
version (never the API key). It is written into the file without re-encoding it, so the
pixels are exactly what the service sent. Any program that reads PNG text sees it; here,
Pillow alone:"""),
    ("code", """%%kirin fox -n 2 --wait
A red fox in a snowy birch forest, watercolor"""),
    ("code", """from PIL import Image

path = fox.wait().paths[0]
with Image.open(path) as picture:
    print(picture.text["parameters"])"""),
    ("markdown", """`kirin.provenance(path)` reads the whole record back as a dict, and
`%kirin show` draws it:"""),
    ("code", """record = kirin.provenance(path)
{key: record[key] for key in ("model", "prompt", "task_id", "cost", "version")}"""),
    ("code", "%kirin show $path"),
    ("markdown", """## A result as the next reference, and the chain it makes

`--image $fox[1]` uses the second picture of `fox` as the reference image. The new job
records its parent (in the journal and in its files), and `%kirin lineage` draws the chain.
`%kirin rerun` makes a new generation from a file's record, with any option changed."""),
    ("code", """%%kirin night --image $fox[1] --wait
The same fox at night under the northern lights, <<<image_1>>>"""),
    ("code", "%kirin rerun $night --ar 16:9 --wait"),
    ("code", "%kirin lineage $night"),
    ("markdown", """## Priced sweeps

A comma list on `--model`, `-n`, `--res` or `--ar`, or `{a|b}` in the prompt, turns a cell
into a sweep: every combination, priced as a whole before anything is sent. `--dry-run`
shows the plan and its price, and sends nothing:"""),
    ("code", """%%kirin --model omni,v3 --ar 1:1,16:9 --dry-run
A lighthouse on a cliff at dusk, oil painting"""),
    ("markdown", """Without `--dry-run` the sweep runs, and ends as a grid whose rows and columns
are labelled by the values swept. The grid is plain HTML, so it stays in the saved notebook."""),
    ("code", """%%kirin lights --model omni,v3 --ar 1:1,16:9 --wait
A lighthouse on a cliff at dusk, oil painting"""),
    ("markdown", """From Python, any option may be a list. The budget is checked for the whole
sweep: one that would pass `max_cost` is refused before its first request."""),
    ("code", """foxes = kirin.sweep("A {red|white} fox, {watercolor|linocut}", aspect_ratio="1:1")
foxes"""),
    ("code", """careful = kirin.Client(max_cost="0.10")
try:
    careful.sweep("A {red|blue|green} kite over the sea", n=[1, 2])
except kirin.BudgetExceeded as exc:
    print("refused:", exc)"""),
    ("markdown", """## Compare

Two pictures of one shape get a before/after slider: drag the dividing line, or press Tab
to reach it and move it with the arrow keys. Each side is named by its prompt. More
pictures get a strip. Both are HTML, so they stay in a saved notebook: opened untrusted,
where no script runs, the browser's resize grip at the foot of the line drags it, and where
styles are stripped (GitHub) the pictures stand side by side."""),
    ("code", "kirin.compare(fox.wait().paths[1], night.wait().paths[0])"),
    ("code", "kirin.compare(fox, night)"),
    ("markdown", """## Export

`kirin.export()` writes this session's results, by suffix: a `.zip` with the pictures,
`manifest.json`, `manifest.csv` and an `index.html` contact sheet; a self-contained `.html`
contact sheet; or a `.csv`. `%kirin export` does the same from the journal, filtered by
`--since DATE` and `--model`."""),
    ("code", """%kirin wait
exported = kirin.export("workflows-export.zip")
import zipfile

with zipfile.ZipFile("workflows-export.zip") as archive:
    names = archive.namelist()
print(len(names), "files:", ", ".join(sorted(names)[:4]), "...")"""),
    ("code", "%kirin export workflows-v3.html --model v3"),
    ("markdown", "With pandas installed, `kirin.history_frame()` is the journal as a table:"),
    ("code", """frame = kirin.history_frame()
frame[["model", "prompt", "cost"]].head()"""),
    ("code", "%kirin wait"),
]

ELEMENTS = [
    ("markdown", """# Subjects (elements) and the whole Kirin family

A subject (an *element*) is a character, animal or prop the service keeps by id, made
from a frontal picture and one to three others. `kirin_v3_image` and
`kirin_v3_omni_image` draw it wherever a prompt asks. This tour makes one from two
pictures drawn here, uses it by name in both models, makes a 4k series, and reads the
gateway's own document of a model. Without a key it all runs on the built-in simulator."""),
    ("code", """%load_ext kirin_jupyter
import kirin_jupyter as kirin
from PIL import Image, ImageDraw


def fox_picture(turned: bool) -> Image.Image:
    \"\"\"A red fox, drawn from the front or turned: the subject's two pictures.\"\"\"
    picture = Image.new("RGB", (640, 640), (236, 240, 244))
    draw = ImageDraw.Draw(picture)
    body = (140, 260, 560, 520) if turned else (200, 240, 440, 560)
    draw.ellipse(body, fill=(214, 96, 36))
    draw.polygon([(230, 250), (270, 120), (320, 240)], fill=(190, 80, 30))
    draw.polygon([(320, 240), (370, 120), (410, 250)], fill=(190, 80, 30))
    draw.ellipse((260, 330, 290, 360) if not turned else (420, 320, 450, 350), fill="black")
    return picture


front, side = fox_picture(False), fox_picture(True)"""),
    ("markdown", """`kirin.create_element` checks everything the element page asks before anything
is sent (a name of at most 20 characters, a description of at most 100, one to three
reference pictures each different from the frontal one, tags `o_101`-`o_108` or their
names), then makes the subject and waits for its id. The id is a 64-bit number, kept
exact; the journal keeps the element by name."""),
    ("code", """fox = kirin.create_element("fox", "a red fox with a white tail tip", front, [side],
                           tags=["Animal"])
print("element id:", fox.element_id, "- above 2**53:", fox.element_id > 2**53)"""),
    ("code", "%kirin element list"),
    ("markdown", """`--element fox` (or `elements=["fox"]`) takes the subject by its name; the
request carries its exact id."""),
    ("code", """%%kirin reader --model v3 --element fox --wait
The fox reading a map by lamplight in an old library"""),
    ("markdown", """`kirin_v3_omni_image` (`v3omni`) takes subjects beside reference images (ten
in all), goes up to 4k, and makes a *series*: 2 to 9 related pictures instead of n
variants (the service ignores `n` then, and the card says so)."""),
    ("code", """%%kirin seasons --model v3omni --element fox --res 4k --series 2 --wait
The fox in the same meadow in spring and in winter"""),
    ("code", """plain = kirin.generate("A red kettle on a wooden table", model="v2", n=1)
plain.wait()
plain"""),
    ("markdown", """## The gateway's own document

The gateway publishes each model's parameter document. `%kirin models --live MODEL` shows
it, and says which documented parameters kirin-jupyter does not know yet (the simulator
serves one too):"""),
    ("code", "%kirin models --live v3"),
    ("code", "%kirin wait"),
]

NOTEBOOKS = {
    "quickstart": QUICKSTART,
    "models": MODELS,
    "batch": BATCH,
    "history": HISTORY,
    "panel": PANEL,
    "workflows": WORKFLOWS,
    "elements": ELEMENTS,
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
