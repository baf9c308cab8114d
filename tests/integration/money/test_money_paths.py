"""Money on odd paths (issue 22 B): a garbage cost, a lost answer, separators in a batch
file, two kernels on one named batch.

Real loopback HTTP throughout: the strict gateway fake (tests/support/gateway.py) where an answer
must be odd, the simulator where many tasks run, real files, real processes.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import socket
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kirin_jupyter import BudgetExceeded, NeverCreated, OutcomeUnknown
from kirin_jupyter.client import Client
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer, Task, completed


@contextlib.contextmanager
def served(state: Gateway) -> Iterator[Gateway]:
    with GatewayServer(state):
        yield state
    assert state.rejections == []  # the client never sent anything off the protocol


def client_for(gateway: Gateway, tmp_path: Path, **kw: Any) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, **kw)


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


# -- 1. a garbage cost never turns the budget off ----------------------------------------

GARBAGE = ["NaN", "sNaN", "-1", {"x": 1}]


def costing(cost: Any, **usage: Any) -> Callable[[Task], dict[str, Any]]:
    """A completed answer whose usage.cost is ``cost`` (and whatever else ``usage`` adds)."""
    return lambda task: completed(task, usage={"cost": cost, **usage})


@pytest.fixture
def unpriced() -> Iterator[Gateway]:
    """A gateway with no precharge route: no quote, and no earlier price to estimate from."""
    with served(Gateway(TEST_KEY, precharge=404)) as gateway:
        yield gateway


@pytest.mark.parametrize("cost", GARBAGE, ids=str)
def test_a_garbage_cost_with_no_quote_stops_the_next_job(unpriced: Gateway, tmp_path: Path,
                                                         cost: Any) -> None:
    """Before: the job counted at zero, so every later job ran past max_cost."""
    unpriced.final = costing(cost)
    client = client_for(unpriced, tmp_path, max_cost="0.50")
    first = client.generate("a fox")
    assert first.wait(20).cost is None  # unreadable: unknown, not zero
    with pytest.raises(BudgetExceeded) as refused:
        client.generate("another fox")
    text = str(refused.value)
    assert "\n" not in text
    assert text.startswith("budget: 1 job(s) of this session that may be billed have no "
                           "price in USD (the service sent no readable cost")
    assert "max_cost $0.50 is not known; nothing was sent" in text
    with pytest.raises(BudgetExceeded, match="nothing was sent"):
        client.batch(["a", "b"], name="after-garbage")  # nor can a batch start
    assert unpriced.creates == 1


@pytest.mark.parametrize("cost", GARBAGE, ids=str)
def test_a_garbage_total_beside_a_zero_unit_price_counts_at_the_quote(
    tmp_path: Path, cost: Any
) -> None:
    """Before: an unreadable total fell back to quantity x unit_price, here 0: the job
    counted at zero while the service had quoted $0.28."""
    with served(Gateway(TEST_KEY, final=costing(cost, quantity=1, unit_price="0"))) as gateway:
        client = client_for(gateway, tmp_path, max_cost="0.80")
        for prompt in ("a fox", "an owl"):
            assert client.generate(prompt).wait(20).cost is None
        with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.56 of max_cost "
                                                 r"\$0.80; this job would cost about \$0.28"):
            client.generate("a third one")  # 0.28 + 0.28 + 0.28 > 0.80
        assert gateway.creates == 2
        assert client.session_spend() == 0  # nothing the service reported is readable


def test_an_itemised_usage_without_a_total_is_still_totalled(tmp_path: Path) -> None:
    final = lambda task: completed(task, usage={"quantity": 2, "unit_price": "0.14"})  # noqa: E731
    with served(Gateway(TEST_KEY, final=final)) as gateway:
        job = client_for(gateway, tmp_path).generate("two foxes", n=2)
        assert job.wait(20).cost == Decimal("0.28")


# -- 4. a lost answer is never "never created" unless a proven lookup says so -----------

@pytest.fixture
def no_lookup() -> Iterator[Gateway]:
    """A gateway whose GET by external id always answers 404 (as it may: no client of the
    real gateway uses it), so the lookup is never proven."""
    with served(Gateway(TEST_KEY, lookup_by_external=False)) as gateway:
        yield gateway


def _lose_then_resume(gateway: Gateway, tmp_path: Path, **kw: Any) -> tuple[Client, Any]:
    client = client_for(gateway, tmp_path, **kw)
    job = client.generate("a fox whose answer is lost")
    with pytest.raises(OutcomeUnknown):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    [resumed] = client.resume()
    return client, resumed


def test_a_lost_answer_on_an_unproven_host_stays_unsettled_after_resume(
    no_lookup: Gateway, tmp_path: Path
) -> None:
    no_lookup.lose_create_answers = 1  # a task is made, and its answer is lost
    client, resumed = _lose_then_resume(no_lookup, tmp_path)
    with pytest.raises(OutcomeUnknown) as unknown:
        resumed.wait(30)
    assert not isinstance(unknown.value, NeverCreated)
    text = str(unknown.value)
    assert "\n" not in text and "cannot tell whether the task was created" in text
    assert "lookup by external id has not been seen to find a task on this host" in text
    assert len(no_lookup.tasks) == 1 and no_lookup.creates == 1  # it was made, once
    row = client.journal.get(resumed.external_task_id)
    assert row["status"] == "interrupted"  # before: "not_created", never resumed again
    [again] = client.resume()  # still resumable
    with pytest.raises(OutcomeUnknown):
        again.wait(30)
    assert no_lookup.creates == 1


def test_an_unreadable_200_on_an_unproven_host_is_counted_as_possibly_billed(
    no_lookup: Gateway, tmp_path: Path
) -> None:
    no_lookup.create_replies = [(200, {"weird": 1})]
    client, resumed = _lose_then_resume(no_lookup, tmp_path, max_cost="0.50")
    with pytest.raises(OutcomeUnknown, match="cannot tell whether the task was created"):
        resumed.wait(30)
    # Counted at its quote ($0.28): a second job of $0.28 would pass $0.50. Before, the
    # resumed job was NeverCreated and counted at nothing.
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.28 of max_cost"):
        client.generate("a second fox")
    assert no_lookup.creates == 1


def test_a_proven_lookup_that_finds_nothing_still_settles_as_never_created(
    tmp_path: Path
) -> None:
    with served(Gateway(TEST_KEY)) as gateway:
        client = client_for(gateway, tmp_path)
        client.generate("a first fox").wait(20)
        until(lambda: client.api.facts.lookup_proven)
        gateway.create_replies = [(200, {"weird": 1})]  # no task made, the answer unreadable
        job = client.generate("a fox never made")
        with pytest.raises(OutcomeUnknown):
            job.wait(30)
        [resumed] = client.resume()
        with pytest.raises(NeverCreated):
            resumed.wait(30)
        assert client.journal.get(job.external_task_id)["status"] == "not_created"


# -- 3. separators never split rows into paid items --------------------------------------

# Every character str.splitlines splits at, beside "\n" and "\r\n", as the read line shows it.
SEPARATORS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085", "\x0b": "\\u000b",
              "\x0c": "\\u000c", "\r": "\\r", "\x1c": "\\u001c", "\x1d": "\\u001d",
              "\x1e": "\\u001e"}


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))  # as written: no newline translation
    return path


@pytest.mark.parametrize("sep", SEPARATORS, ids=lambda s: f"U+{ord(s):04X}")
def test_a_separator_inside_a_txt_line_keeps_it_one_item(
    shell: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], sep: str
) -> None:
    prompts = _write(tmp_path / "prompts.txt",
                     f"a red{sep}kettle\r\na blue mug\n# a comment\na green{sep}lamp\n")
    shell.run_line_magic("kirin", f"batch {prompts} --dry-run")
    out = capsys.readouterr().out
    shown = SEPARATORS[sep]
    first = out.splitlines()[0]
    assert first == (f'read 3 prompts from prompts.txt: "a red{shown}kettle", '
                     f'"a blue mug", "a green{shown}lamp"')
    assert out.index("read 3 prompts") < out.index("batch of 3 prompts")  # before the price
    assert "dry run: nothing was created" in out


@pytest.mark.parametrize("sep", SEPARATORS, ids=lambda s: f"U+{ord(s):04X}")
def test_a_separator_inside_a_csv_cell_keeps_it_one_row(
    shell: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], sep: str
) -> None:
    rows = _write(tmp_path / "products.csv",
                  f'prompt,n\r\n"a red{sep}kettle",1\r\na blue{sep}mug,2\n"a multi\nline lamp",1\n')
    shell.run_line_magic("kirin", f"batch {rows} --dry-run")
    out = capsys.readouterr().out
    shown = SEPARATORS[sep]
    assert out.splitlines()[0] == (f'read 3 prompts from products.csv: "a red{shown}kettle", '
                                   f'"a blue{shown}mug", "a multi\\u000aline lamp"')
    assert "batch of 3 prompts" in out


def test_a_long_file_shows_the_first_few_and_counts_them_all(
    shell: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = _write(tmp_path / "many.txt", "".join(f"prompt {i}\u2028still {i}\n"
                                                    for i in range(7)))
    shell.run_line_magic("kirin", f"batch {prompts} --dry-run")
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ('read 7 prompts from many.txt: "prompt 0\\u2028still 0", '
                     '"prompt 1\\u2028still 1", "prompt 2\\u2028still 2", …')


def test_the_python_batch_reads_a_path_and_buys_one_item_per_row(
    sim_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import kirin_jupyter

    text = "".join(f"a kettle in the style {i}{sep}with steam\n"
                   for i, sep in enumerate(SEPARATORS))
    prompts = _write(tmp_path / "kettles.txt", text)
    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL)
    batch = client.batch(prompts, name="kettles")
    said = capsys.readouterr().out
    assert said.startswith(f"read {len(SEPARATORS)} prompts from kettles.txt: ")
    results = batch.wait(60)
    assert batch.size == len(SEPARATORS) and all(r is not None for r in results)
    creates = dict(sim_server.service.creates_by_external_id)
    assert creates == {f"kettles-{i:05d}": 1 for i in range(1, len(SEPARATORS) + 1)}
    assert [r.prompt for r in results if r] == [
        f"a kettle in the style {i}{sep}with steam" for i, sep in enumerate(SEPARATORS)]
    with pytest.raises(kirin_jupyter.ValidationError, match=r"pass a pathlib\.Path"):
        kirin_jupyter.batch(str(prompts))  # a string is a prompt, never read as a file
    kirin_jupyter.batch(prompts, name="kettles-sim").wait(60)  # the session's client
    assert capsys.readouterr().out.startswith(f"read {len(SEPARATORS)} prompts from ")


# -- 5. two kernels on one named batch -----------------------------------------------------

SHARED = [f"a lighthouse at dusk, number {i}" for i in range(8)]


def _report(batch: Any, said: str, **more: Any) -> dict[str, Any]:
    results = batch.wait(120)
    return {"pid": os.getpid(), "made_by": more.pop("made_by"), "said": said,
            "failed": batch.failed, "creates": batch.creates,
            "results": [(r.prompt, r.task_id, all(p.is_file() for p in r.paths))
                        if r is not None else None for r in results], **more}


def _kernel_at(url: str, out: str, name: str, start_at: float, reports: Any) -> None:
    """A kernel that runs the named batch at ``start_at`` (beside another doing the same)."""
    try:
        client = Client(api_key=TEST_KEY, base_url=url, output_dir=Path(out),
                        poll_policy=FAST_POLL)
        while time.time() < start_at:
            time.sleep(0.001)
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            batch = client.batch(SHARED, name=name, concurrency=2)
        reports.put(_report(batch, said.getvalue(), made_by=getattr(batch, "made_by", None)))
    except BaseException as exc:  # the test shows it
        reports.put({"pid": os.getpid(), "error": f"{exc.__class__.__name__}: {exc}"})


def _kernel_that_dies(url: str, out: str, started: Any, watched: Any, reports: Any) -> None:
    """Runs the batch, then dies with items done, in flight and queued, once watched."""
    client = Client(api_key=TEST_KEY, base_url=url, output_dir=Path(out),
                    poll_policy=FAST_POLL)
    batch = client.batch(SHARED, name="relay", concurrency=2)
    started.set()
    watched.wait(60)
    while sum(r is not None for r in batch.results) < 3:
        time.sleep(0.01)
    reports.put({"pid": os.getpid(), "died_with": sum(r is not None for r in batch.results)})
    reports.close()
    reports.join_thread()  # the report is sent before the kernel dies
    os._exit(1)


def _kernel_that_watches(url: str, out: str, started: Any, watched: Any, reports: Any
                         ) -> None:
    try:
        started.wait(60)
        client = Client(api_key=TEST_KEY, base_url=url, output_dir=Path(out),
                        poll_policy=FAST_POLL)
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            batch = client.batch(SHARED, name="relay")
        made_by = batch.made_by
        watched.set()
        reports.put(_report(batch, said.getvalue(), made_by=made_by))
    except BaseException as exc:
        reports.put({"pid": os.getpid(), "error": f"{exc.__class__.__name__}: {exc}"})


def _creates_per_item(creates: dict[str, int], name: str) -> dict[str, int]:
    """Creates of each item, all its attempts (NAME-00003, NAME-00003-r1) together."""
    per_item: dict[str, int] = {}
    for external_id, count in creates.items():
        item = external_id[:len(name) + 6]
        per_item[item] = per_item.get(item, 0) + count
    return per_item


def _owner_words(pid: int) -> str:
    return f"made by another kernel (pid {pid}, host {socket.gethostname()})"


def test_two_kernels_starting_one_named_batch_at_once_make_each_item_once(
    tmp_path: Path
) -> None:
    """Before: both sent every create; the second was refused (409, the id was used) and
    its kernel reported the item failed while the other made it."""
    context = multiprocessing.get_context("spawn")
    with SimulatorServer(task_seconds=0.5, api_key=TEST_KEY) as server:
        reports = context.Queue()
        start_at = time.time() + 2.0  # after both have imported the package
        kernels = [context.Process(target=_kernel_at, args=(
            server.url, str(tmp_path / f"out-{i}"), "shared", start_at, reports))
            for i in range(2)]
        for kernel in kernels:
            kernel.start()
        first, second = (reports.get(timeout=120) for _ in kernels)
        for kernel in kernels:
            kernel.join(30)
        creates = dict(server.service.creates_by_external_id)
    assert "error" not in first and "error" not in second, (first, second)
    assert creates == {f"shared-{i:05d}": 1 for i in range(1, 9)}  # each once, no retry
    maker, watcher = sorted((first, second), key=lambda r: r["made_by"] is not None)
    assert maker["made_by"] is None and maker["creates"] == 8
    assert watcher["made_by"] == f"{socket.gethostname()}:{maker['pid']}"
    assert watcher["creates"] == 0  # bought nothing
    assert f"batch shared: {_owner_words(maker['pid'])}" in watcher["said"]
    for report in (maker, watcher):
        assert report["failed"] == []  # no item reported failed, in either kernel
    assert watcher["results"] == maker["results"]  # shown as they landed: the same tasks
    assert all(r is not None and r[2] for r in maker["results"])
    assert [r[0] for r in maker["results"]] == SHARED


def test_a_kernel_watching_a_named_batch_takes_over_when_the_maker_dies(tmp_path: Path
                                                                       ) -> None:
    context = multiprocessing.get_context("spawn")
    started, watched = context.Event(), context.Event()
    with SimulatorServer(task_seconds=0.6, api_key=TEST_KEY) as server:
        reports = context.Queue()
        maker = context.Process(target=_kernel_that_dies, args=(
            server.url, str(tmp_path / "out-maker"), started, watched, reports))
        watcher = context.Process(target=_kernel_that_watches, args=(
            server.url, str(tmp_path / "out-watcher"), started, watched, reports))
        maker.start()
        watcher.start()
        died = reports.get(timeout=120)
        finished = reports.get(timeout=120)
        maker.join(30)
        watcher.join(30)
        creates = dict(server.service.creates_by_external_id)
    assert "error" not in died and "error" not in finished, (died, finished)
    assert finished["made_by"] == f"{socket.gethostname()}:{died['pid']}"
    assert _owner_words(died["pid"]) in finished["said"]
    assert finished["failed"] == []
    assert all(r is not None and r[2] for r in finished["results"])  # every item, on disk
    assert [r[0] for r in finished["results"]] == SHARED
    assert all(count == 1 for count in creates.values())
    assert _creates_per_item(creates, "relay") == {f"relay-{i:05d}": 1 for i in range(1, 9)}
    assert 1 <= finished["creates"] <= 8 - died["died_with"]  # it bought only the rest
