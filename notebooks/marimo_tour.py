"""kirin-jupyter in marimo: the Python API, with mo.ui controls bound to kirin.generate.

Open it with `marimo edit notebooks/marimo_tour.py`, or run it headless with
`marimo export html notebooks/marimo_tour.py -o tour.html`. Without KIRIN_API_KEY every
job runs on the built-in simulator, free.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    import kirin_jupyter as kirin

    return kirin, mo


@app.cell
def _(mo):
    mo.md("""
    # Kirin images in marimo

    marimo runs no IPython magics and draws no ipywidgets, so this tour uses the Python
    API. A job shows as a live card (one anywidget) that moves while the job runs and turns
    into its pictures when it ends. Without `KIRIN_API_KEY` everything runs on the built-in
    simulator, at no cost.

    Change the options and press **Generate**: each press is a new job (and, with a key, a
    new purchase), so nothing is bought while you are still typing.
    """)
    return


@app.cell
def _(mo):
    DEFAULTS = {"prompt": "a red fox in the snow, watercolour", "model": "v3", "n": 2,
                "resolution": "1k", "aspect_ratio": "1:1"}
    controls = mo.ui.dictionary({
        "prompt": mo.ui.text_area(value=DEFAULTS["prompt"], label="Prompt", full_width=True),
        "model": mo.ui.dropdown(options=["v3", "omni"], value=DEFAULTS["model"],
                                label="Model"),
        "n": mo.ui.slider(1, 4, value=DEFAULTS["n"], label="Images", show_value=True),
        "resolution": mo.ui.radio(options=["1k", "2k"], value=DEFAULTS["resolution"],
                                  label="Resolution", inline=True),
        "aspect_ratio": mo.ui.dropdown(options=["1:1", "3:2", "16:9", "9:16"],
                                       value=DEFAULTS["aspect_ratio"], label="Aspect ratio"),
    })
    form = controls.form(submit_button_label="Generate", bordered=False)
    form
    return DEFAULTS, form


@app.cell
def _(DEFAULTS, form, kirin):
    # The form's value is None until Generate is pressed: the first job uses the defaults.
    job = kirin.generate(**(form.value or DEFAULTS))
    job
    return (job,)


@app.cell
async def _(job):
    # Another cell, another moment: awaiting the job leaves marimo's loop free meanwhile.
    result = await job
    result
    return (result,)


@app.cell
def _(mo, result):
    mo.md(f"""
    The first picture is `{result.paths[0].name}`, {result.images[0].size[0]} pixels wide;
    `result.images` are PIL images and `result.paths` the saved files, each carrying its
    prompt and options.
    """)
    return


@app.cell
def _(kirin):
    batch = kirin.batch(["a red kettle", "a blue mug", "a green lamp"], n=1)
    batch
    return (batch,)


@app.cell
def _(kirin):
    print(kirin.plan_sweep("a {red|white} fox", aspect_ratio=["1:1", "16:9"]))
    sweep = kirin.sweep("a {red|white} fox", aspect_ratio=["1:1", "16:9"])
    sweep
    return (sweep,)


@app.cell
async def _(batch, kirin, result, sweep):
    await batch
    await sweep
    # Before and after: drag the line between the two pictures.
    kirin.compare(result.paths[0], batch.results[0].paths[0])
    return


@app.cell
async def _(batch, kirin, sweep):
    await batch
    await sweep
    exported = kirin.export("marimo-tour-export.zip")
    exported
    return


if __name__ == "__main__":
    app.run()
