"""Star, pick and reject (issue 28): marks in the journal and in the file's XMP, the
winners delivered by ``export(..., picked=True)``, ``history``'s filters, and the losers
moved aside by ``cull``; each on the SQLite journal and on a team's PostgreSQL one."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.exporter.export import export
from kirin_jupyter.storage.marks import cull
from tests.support.exiftool import xmp_tags


def test_the_best_two_of_a_batch_picked_in_python_are_the_only_images_exported(
        each_journal: str, http_client: Client, tmp_path: Path) -> None:
    """DONE-WHEN: a batch's best two results, picked in Python, are the only images in
    ``export(..., picked=True)``, and their XMP rating reads back with exiftool."""
    assert http_client.journal.dialect == each_journal
    prompts = ["a teal kite", "a red kite", "a kite at dusk", "a kite in fog"]
    batch = http_client.batch(prompts, name="kites", model="v3", n=1)
    batch.wait(60)
    results = batch.results
    assert all(r is not None for r in results)
    best, second = results[2], results[0]
    assert best is not None and second is not None
    best.rate(5)
    best.pick()
    second.rate(4)
    second.pick()
    rejected = results[1]
    assert rejected is not None
    rejected.reject()
    target = tmp_path / "winners.zip"
    done = export(target, results, picked=True)
    assert done.images == 2
    with zipfile.ZipFile(target) as archive:
        images = sorted(n for n in archive.namelist() if n.endswith(".png"))
        assert len(images) == 2
        assert {archive.read(name) for name in images} == {
            best.paths[0].read_bytes(), second.paths[0].read_bytes()}
        archive.extractall(tmp_path / "unzipped")
    ratings = sorted(xmp_tags(tmp_path / "unzipped" / name)["Rating"] for name in images)
    assert ratings == [4, 5]
    assert xmp_tags(rejected.paths[0])["Rating"] == -1  # Bridge's and Lightroom's reject
    assert [m.stars for m in best.marks] == ["★★★★★"]
    rows, total = http_client.journal.history(picked=True)
    assert total == 2 and {r["external_id"] for r in rows} == {
        best.external_task_id, second.external_task_id}
    rows, total = http_client.journal.history(min_rating=5)
    assert [r["external_id"] for r in rows] == [best.external_task_id]
    page = batch._repr_html_()  # static stars, as a saved notebook keeps them
    assert page is not None and page.count("★★★★★") == 1 and page.count("★★★★☆") == 1
    assert page.count(">picked<") == 2 and page.count(">rejected<") == 1
    card = best._repr_html_()
    assert card is not None and "★★★★★" in card and 'aria-label="5 of 5 stars"' in card


def test_the_sweep_grid_shows_a_cell_s_stars(each_journal: str, http_client: Client) -> None:
    assert http_client.journal.dialect == each_journal
    sweep = http_client.sweep("a {red|blue} kite", model="v3", n=1)
    sweep.wait(60)
    blue = sweep.results[1]
    assert blue is not None
    blue.rate(2)
    blue.reject()
    grid = sweep._repr_html_()
    assert grid is not None and grid.count("★★☆☆☆") == 1 and ">rejected<" in grid


def test_a_rating_rewrites_only_metadata_and_a_minimal_export_keeps_it(
        each_journal: str, http_client: Client, tmp_path: Path) -> None:
    assert http_client.journal.dialect == each_journal
    result = http_client.generate("a secret teal kite", model="v3", n=2).wait(30)
    path = result.paths[1]
    before = np.asarray(Image.open(path).convert("RGB"))
    result.rate(3, image=1)
    assert xmp_tags(path)["Rating"] == 3
    assert "Rating" not in xmp_tags(result.paths[0])
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), before)
    assert kirin_jupyter.provenance(path)["prompt"] == "a secret teal kite"
    with Image.open(path) as img:  # A1111's text survives a rating
        assert img.info["parameters"].startswith("a secret teal kite")
    target = tmp_path / "client.zip"
    export(target, [result], min_rating=3, provenance="minimal")
    with zipfile.ZipFile(target) as archive:
        names = [n for n in archive.namelist() if n.endswith(".png")]
        assert len(names) == 1
        data = archive.read(names[0])
        for name in archive.namelist():  # nor in the manifest or the sheet
            assert b"secret" not in archive.read(name), name
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), before)
        archive.extractall(tmp_path / "out")
    tags = xmp_tags(tmp_path / "out" / names[0])
    assert tags["Rating"] == 3 and tags["DigitalSourceType"].endswith("trainedAlgorithmicMedia")
    export(tmp_path / "bare.zip", [result], provenance="off")
    with zipfile.ZipFile(tmp_path / "bare.zip") as archive:
        data = archive.read(sorted(n for n in archive.namelist() if n.endswith(".png"))[0])
    assert b"kirin" not in data and b"xmp" not in data.lower()
    with pytest.raises(ValidationError, match="rating"):
        result.rate(6)
    with pytest.raises(ValidationError, match="provenance"):
        export(tmp_path / "x.zip", [result], provenance="some")


def test_cull_moves_rejected_files_aside_and_deletes_only_when_told(
        each_journal: str, http_client: Client) -> None:
    assert http_client.journal.dialect == each_journal
    result = http_client.generate("a kite", model="v3", n=2, provenance="off").wait(30)
    first, second = result.paths
    served = first.read_bytes()
    result.reject(image=0)
    assert first.read_bytes() == served  # provenance off: the reject is in the journal only
    moved = cull(http_client.journal)
    assert moved == [(first.resolve(), first.resolve().parent / "rejected" / first.name)]
    assert not first.exists() and moved[0][1] is not None and moved[0][1].is_file()
    assert second.is_file()
    row = http_client.journal.find(result.task_id)
    assert row is not None and str(moved[0][1]) in row["paths"]
    assert cull(http_client.journal) == []  # already aside
    gone = cull(http_client.journal, delete=True)
    assert gone == [(moved[0][1], None)] and not moved[0][1].exists()
