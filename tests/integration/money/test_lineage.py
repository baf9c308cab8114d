"""Lineage and the provenance magics: a result used as a reference names its parent (in
the request, the journal and the new file's record); ``%kirin show PATH``, ``%kirin rerun
PATH`` and ``%kirin lineage ID`` in an IPython shell (issue 13)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.display import theme
from kirin_jupyter.engine.job import Job
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.lineage import ResultImage
from kirin_jupyter.panel.references import from_result
from kirin_jupyter.simulator.server import SimulatorServer


class _Published:
    """Every display() of a shell, as mime bundles."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.outputs: list[dict[str, Any]] = []
        publisher = shell.display_pub
        self._old = publisher.publish
        publisher.publish = self.publish  # type: ignore[method-assign]
        self._publisher = publisher

    def publish(self, data: dict[str, Any], *args: Any, **kw: Any) -> None:
        self.outputs.append(data)

    def close(self) -> None:
        self._publisher.publish = self._old  # type: ignore[method-assign]


@pytest.fixture
def published(shell: InteractiveShell) -> Any:
    found = _Published(shell)
    yield found
    found.close()


def _client(shell: InteractiveShell) -> Client:
    return shell.magics_manager.registry["KirinMagics"].client()  # type: ignore[no-any-return]


def _row(client: Client, job: Job) -> dict[str, Any]:
    row = client.journal.get(job.external_task_id)
    assert row is not None
    return row


def test_image_of_a_job_on_the_magic_line_records_its_parent(
        shell: InteractiveShell, published: Any) -> None:
    shell.run_cell_magic("kirin", "first -n 2 --wait", "a fox in a meadow")
    first: Job = shell.user_ns["first"]
    parent = first.result
    assert parent is not None
    shell.run_cell_magic("kirin", "second --image $first[1] --wait",
                         "the same fox at night, <<<image_1>>>")
    second: Job = shell.user_ns["second"]
    assert second.status == "completed", second.error
    ref = second.request.images[0]
    assert ref.parent_task_id == first.task_id and second.request.parents == (first.task_id,)
    assert ref.label == f"{first.task_id}/02.png"
    assert json.loads(_row(_client(shell), second)["parents"]) == [first.task_id]
    assert second.result is not None
    record = kirin_jupyter.provenance(second.result.paths[0])
    assert record["parents"] == [first.task_id]
    assert record["references"][0]["parent_task_id"] == first.task_id
    import hashlib

    assert record["references"][0]["sha256"] == hashlib.sha256(
        parent.paths[1].read_bytes()).hexdigest()
    with pytest.raises(UsageError, match=r"has 2 image\(s\); \[5\] is not one of them"):
        shell.run_line_magic("kirin", "--image $first[5] more foxes")
    assert _client(shell).simulator.stats()["tasks"] == 2


def test_python_api_jobs_results_and_result_paths_name_their_parent(
        http_client: Client, sim_server: SimulatorServer) -> None:
    parent = http_client.generate("a teapot", n=2)
    result = parent.wait(30)
    requests = {
        "job": http_client.build("x <<<image_1>>>", images=[parent]),
        "result": http_client.build("x <<<image_1>>>", images=result),
        "picked": http_client.build("x <<<image_1>>>", images=[ResultImage(result, -1)]),
        "path": http_client.build("x <<<image_1>>>", images=[str(result.paths[0])]),
    }
    for name, request in requests.items():
        assert request.parents == (result.task_id,), name
    assert requests["picked"].images[0].label.endswith("02.png")
    # An older file without a record: found from output_dir/<task_id>/NN.png and the journal.
    path = result.paths[1]
    path.write_bytes(sim_server.service.tasks[result.task_id].rendered[1])
    assert kirin_jupyter.storage.file_provenance.read_record(path.read_bytes()) is None
    assert http_client.build("x", images=[path]).parents == (result.task_id,)
    # The panel's "use as reference" holds a result file's bytes: the record names it.
    assert from_result(result.paths[0]).wire.parent_task_id == result.task_id  # type: ignore[union-attr]
    running = http_client.generate("a kettle")
    with pytest.raises(ValidationError, match=r"still .*; wait for it"):
        http_client.build("x", images=[running])
    running.wait(30)


def test_a_plain_image_has_no_parent(http_client: Client,
                                     make_image: Callable[..., Path]) -> None:
    assert http_client.build("x", images=[make_image(400, 400)]).parents == ()


def test_show_path_shows_the_record_and_show_task_id_still_shows_the_job(
        shell: InteractiveShell, published: Any, make_image: Callable[..., Path]) -> None:
    shell.run_cell_magic("kirin", "job --wait --ar 3:4", "a lighthouse, $5 a night")
    job: Job = shell.user_ns["job"]
    assert job.result is not None
    path = job.result.paths[0]
    published.outputs.clear()
    shell.run_line_magic("kirin", f"show {path}")
    shell.run_line_magic("kirin", f"show {job.task_id}")
    card, history = published.outputs
    html = card["text/html"]
    assert "<b>Kirin record</b>" in html and "a lighthouse, $5 a night" in html
    # Where the file is, never as an absolute path (issue 22, D8): here the output folder
    # lies outside the working directory, so by its place in it.
    assert f"…/{path.parent.name}/{path.name}" in html and str(path) not in html
    assert job.task_id in html and "data:image/jpeg;base64," in html
    assert "tex2jax_ignore" in html and theme.MUTED in html  # theme colours, no MathJax
    assert f"  task id        {job.task_id}\n" in card["text/plain"]
    assert job.task_id in history["text/html"]
    with pytest.raises(UsageError, match="holds no kirin record") as caught:
        shell.run_line_magic("kirin", f"show {make_image(300, 300)}")
    assert "\n" not in str(caught.value)


def test_rerun_a_file_with_a_new_external_id_and_an_override(
        shell: InteractiveShell, published: Any, make_image: Callable[..., Path]) -> None:
    shell.run_cell_magic("kirin", "job --wait -m v3 --ar 16:9 --res 2k --neg blur",
                         "a red bicycle")
    job: Job = shell.user_ns["job"]
    assert job.result is not None
    client = _client(shell)
    with pytest.raises(UsageError, match="holds no kirin record"):
        shell.run_line_magic("kirin", f"rerun {make_image(300, 300)} --n 2")
    with pytest.raises(UsageError, match="which one\\? usage: %kirin rerun PATH"):
        shell.run_line_magic("kirin", "rerun")
    assert client.simulator.stats()["tasks"] == 1  # nothing sent for either
    shell.run_line_magic("kirin", f"rerun {job.result.paths[0]} --n 2 --wait")
    again: Job = shell.user_ns["_kirin"]
    assert again is not job and again.status == "completed"
    assert again.external_task_id != job.external_task_id
    request = again.request
    assert (request.prompt, request.model.name, request.n) == (
        "a red bicycle", "kirin_v3_image", 2)
    assert (request.aspect_ratio, request.resolution, request.negative_prompt) == (
        "16:9", "2k", "blur")


def test_rerun_of_an_image_made_from_a_reference_finds_the_reference_again(
        shell: InteractiveShell, published: Any) -> None:
    shell.run_cell_magic("kirin", "a --wait", "a cat")
    shell.run_cell_magic("kirin", "b --wait --image $a", "the cat <<<image_1>>> in a hat")
    b: Job = shell.user_ns["b"]
    assert b.result is not None
    shell.run_line_magic("kirin", f"rerun {b.result.paths[0]} --wait")
    again: Job = shell.user_ns["_kirin"]
    assert again.request.parents == (shell.user_ns["a"].task_id,)


def test_lineage_draws_the_chain_oldest_first(shell: InteractiveShell,
                                              published: Any) -> None:
    shell.run_cell_magic("kirin", "a --wait", "first sketch")
    shell.run_cell_magic("kirin", "b --wait --image $a", "second take <<<image_1>>>")
    shell.run_cell_magic("kirin", "c --wait --image $b[0]", "final <<<image_1>>>")
    a, b, c = (shell.user_ns[name] for name in "abc")
    published.outputs.clear()
    shell.run_line_magic("kirin", f"lineage {c.task_id}")
    shell.run_line_magic("kirin", f"lineage {c.result.paths[0]}")
    shell.run_line_magic("kirin", f"lineage {b.external_task_id}")
    by_task, by_path, middle = published.outputs
    html = by_task["text/html"]
    positions = [html.index(job.task_id) for job in (a, b, c)]
    assert positions == sorted(positions)
    assert html.count("data:image/jpeg;base64,") == 3 and "3 generations" in html
    assert "first sketch" in html and "final" in html
    assert by_path["text/html"] == html
    assert "2 generations" in middle["text/html"] and c.task_id not in middle["text/html"]
    text = by_task["text/plain"].splitlines()
    assert text[1].startswith(f"  1. {a.task_id}") and c.task_id in text[-2]
    with pytest.raises(UsageError, match="no job with task id or external id 'nope'"):
        shell.run_line_magic("kirin", "lineage nope")


def _drawn(html: str) -> list[str]:
    """Which file each generation of a lineage draws (its node's data-file)."""
    return re.findall(r'class="kirin-lineage-node" data-file="([^"]*)"', html)


def test_lineage_draws_the_picture_that_was_used_not_the_first(
        shell: InteractiveShell, published: Any) -> None:
    """``--image $fox[1]`` sent fox's second image: the chain draws that one (matched by
    the SHA-256 its child's record and the journal keep), also from the file's record and
    when the reference was re-encoded by --fit (then by its label). Issue 22, D1."""
    from kirin_jupyter.display.provenance_views import CHAIN_SIDE
    from kirin_jupyter.storage.thumbnails import thumbnail_jpeg

    shell.run_cell_magic("kirin", "fox -n 2 --wait --ar 1:1", "a fox in a meadow")
    shell.run_cell_magic("kirin", "night --image $fox[1] --wait", "the fox at night <<<image_1>>>")
    fox, night = shell.user_ns["fox"], shell.user_ns["night"]
    published.outputs.clear()
    shell.run_line_magic("kirin", "lineage $night")  # from the journal
    shell.run_line_magic("kirin", f"lineage {night.result.paths[0]}")  # from the file
    for shown in published.outputs:
        html = shown["text/html"]
        assert _drawn(html) == ["02.png", "01.png"], _drawn(html)
        second = base64.b64encode(thumbnail_jpeg(fox.result.paths[1], CHAIN_SIDE * 2,
                                                 square=True)).decode()
        assert html.index(second) < html.index(night.task_id)  # its very picture, first
        assert "used: 02.png of 2" in html
    # The reference re-encoded on the way (its hash is no file's): found by its label.
    from kirin_jupyter.lineage import Node, Ref, used_files

    parent = Node(fox.task_id, "a fox", "omni", tuple(fox.result.paths), ())
    child = Node("t2", "x", "omni", (), (fox.task_id,),
                 refs=(Ref("0" * 16, f"{fox.task_id}/02.png"),))
    assert used_files(parent, [child]) == (fox.result.paths[1],)
    assert used_files(parent, []) == () and parent.shown == fox.result.paths[0]


def test_help_lists_the_new_subcommands(shell: InteractiveShell, capsys: Any) -> None:
    shell.run_line_magic("kirin", "help")
    out = capsys.readouterr().out
    assert "%kirin rerun PATH [options]" in out and "%kirin lineage ID|PATH" in out
    assert "%kirin show PATH" in out


def test_a_file_without_a_record_under_a_non_ascii_folder_still_finds_its_parent(
        sim_server: SimulatorServer, tmp_path: Path) -> None:
    from tests.conftest import FAST_POLL, TEST_KEY

    client = Client(api_key=TEST_KEY, base_url=sim_server.url,
                    output_dir=tmp_path / "résultats", poll_policy=FAST_POLL)
    result = client.generate("a teapot").wait(30)
    path = result.paths[0]
    path.write_bytes(sim_server.service.tasks[result.task_id].rendered[0])  # no record
    assert kirin_jupyter.storage.file_provenance.read_record(path.read_bytes()) is None
    # the journal's JSON writes 'é' as '\u00e9': the path is compared, not its text
    assert client.build("x", images=[path]).parents == (result.task_id,)
    elsewhere = tmp_path / "copy" / result.task_id / path.name  # same layout, not listed
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(path.read_bytes())
    assert client.build("x", images=[elsewhere]).parents == ()
