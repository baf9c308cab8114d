"""Nothing lost, nothing leaked: faults, resume, budget, hostile input (loopback simulator)."""

from __future__ import annotations

import email.utils
import json
import multiprocessing
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter import (
    BudgetExceeded,
    DownloadError,
    NeverCreated,
    OutcomeUnknown,
    ResultExpired,
    TaskTimeout,
)
from kirin_jupyter.client import Client
from kirin_jupyter.display.history import history_html
from kirin_jupyter.display.static import error_html, result_html
from kirin_jupyter.service.http import RetryPolicy
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal import Journal

from .conftest import FAST_POLL, TEST_KEY

QUICK_RETRY = RetryPolicy(base=0.01, cap=0.05)


def client_for(server: SimulatorServer, tmp_path: Path, **kw: object) -> Client:
    client = Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, **kw)  # type: ignore[arg-type]
    client._api.retry = QUICK_RETRY
    return client


# -- faults ---------------------------------------------------------------------------


def test_429_storm_with_retry_after_seconds_and_http_date(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    http_client._api.retry = QUICK_RETRY
    soon = email.utils.formatdate(time.time() + 1, usegmt=True)
    sim_server.service.add_fault(Fault("get", "status", status=429,
                                       headers={"Retry-After": "0"}, times=3))
    sim_server.service.add_fault(Fault("get", "status", status=429,
                                       headers={"Retry-After": soon}, times=1))
    started = time.monotonic()
    result = http_client.generate("a fox").wait(30)
    assert result.paths[0].is_file()
    assert time.monotonic() - started < 5  # the HTTP date was honoured, not a long backoff
    assert sim_server.service.stats()["requests"]["get"] >= 5


def test_5xx_burst_while_polling(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("get", "status", status=502, times=5))
    assert http_client.generate("a fox").wait(30).paths


def test_malformed_json_while_polling(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("get", "malformed", times=2))
    assert http_client.generate("a fox").wait(30).paths


def test_truncated_download_is_retried(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("download", "truncate", times=2))
    result = http_client.generate("a fox").wait(30)
    from PIL import Image

    with Image.open(result.paths[0]) as img:
        img.load()  # a complete image, not the truncated one
    assert sim_server.service.stats()["requests"]["download"] == 3


def test_corrupt_download_every_time_is_a_clear_error_and_resumable(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    sim_server.service.add_fault(Fault("download", "truncate", times=3))
    job = client.generate("a fox")
    with pytest.raises(DownloadError, match="could not download a result intact after 3 tries"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    assert not list((tmp_path / "out").rglob("*.png"))  # no half file left behind
    assert not list((tmp_path / "out").rglob(".part-*"))
    # Paid for, so not lost: resume fetches it once the download works again.
    resumed = client_for(sim_server, tmp_path).resume()
    assert [j.external_task_id for j in resumed] == [job.external_task_id]
    assert resumed[0].wait(30).paths[0].is_file()
    assert sim_server.service.stats()["creates_by_external_id"] == {job.external_task_id: 1}


def test_expired_url_is_requeried_once(http_client: Client, sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("download", "status", status=410, times=1))
    result = http_client.generate("a fox").wait(30)
    assert result.paths[0].is_file()


def test_expired_url_twice_is_result_expired(http_client: Client,
                                             sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("download", "status", status=403, times=2))
    with pytest.raises(ResultExpired, match="expired, even after asking for fresh ones"):
        http_client.generate("a fox").wait(30)


def test_stuck_task_times_out_keeps_ids_and_resumes_later(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    sim_server.service.task_seconds = 3600
    client = client_for(sim_server, tmp_path, timeout=0.4)
    job = client.generate("a stuck fox")
    with pytest.raises(TaskTimeout) as caught:
        job.wait(30)
    assert caught.value.task_id == job.task_id and caught.value.external_task_id
    assert client.journal.get(job.external_task_id)["status"] == "timeout"
    sim_server.service.finish_now(job.task_id)
    resumed = client_for(sim_server, tmp_path).resume()
    assert [j.task_id for j in resumed] == [job.task_id]
    assert resumed[0].wait(30).paths
    assert client.journal.get(job.external_task_id)["status"] == "completed"
    assert client_for(sim_server, tmp_path).resume() == []  # nothing left to follow


def test_api_unreachable_during_polling_is_waited_out_then_resumable(tmp_path: Path) -> None:
    server = SimulatorServer(task_seconds=30, api_key=TEST_KEY).start()
    port = server.port
    client = client_for(server, tmp_path, timeout=1.5)
    job = client.generate("a fox")
    while job.task_id is None:
        time.sleep(0.01)
    server.close()  # the service goes away mid-task
    with pytest.raises(TaskTimeout, match="the service has been failing: could not reach"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "timeout"
    # The service comes back (same port, same tasks): resume finishes the job.
    server.service.finish_now(job.task_id)
    with SimulatorServer(port, service=server.service) as back:
        [resumed] = client_for(back, tmp_path).resume()
        assert resumed.wait(30).paths[0].is_file()
    assert port == back.port


def test_resume_reports_a_create_that_never_arrived(sim_server: SimulatorServer,
                                                     tmp_path: Path) -> None:
    """On a host whose lookup by external id was seen to find a task: its 404 settles the
    job as never created (elsewhere it proves nothing: tests/test_money_paths.py)."""
    client = client_for(sim_server, tmp_path)
    client.generate("a first fox").wait(30)  # its create proves the lookup on this host
    deadline = time.monotonic() + 10
    while not client.api.facts.lookup_proven and time.monotonic() < deadline:
        time.sleep(0.02)
    creates = sim_server.service.stats()["requests"].get("create", 0)
    client.journal.record_submit("kj-lost-in-transit", "kirin_image_omni", "a fox",
                                 {"model": "kirin_image_omni", "prompt": "a fox", "n": 1},
                                 sim_server.url, tmp_path / "out")
    with client.journal._connect() as conn:  # as if written by a process now gone
        conn.execute("UPDATE jobs SET owner = 'elsewhere:1'")
    [job] = client.resume()
    with pytest.raises(NeverCreated, match="lists no task for external id kj-lost-in-transit"):
        job.wait(30)
    assert "billed" not in str(job.error)  # only the service could say so
    assert client.journal.get("kj-lost-in-transit")["status"] == "not_created"
    assert sim_server.service.stats()["requests"].get("create", 0) == creates


def test_journal_is_safe_with_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, tag)) for tag in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    errors = [p.read_text() for p in tmp_path.glob("error-*.txt")]
    assert [proc.exitcode for proc in procs] == [0, 0], errors
    journal = Journal(path)
    rows = journal.history(limit=1000)[0]
    assert len(rows) == 80 and all(r["status"] == "created" for r in rows)


def _write_many(path: Path, tag: str) -> None:
    import traceback

    try:
        journal = Journal(path)
        for i in range(40):
            ext = f"{tag}-{i}"
            journal.record_submit(ext, "kirin_image_omni", "p", {"n": 1}, "http://x",
                                  path.parent)
            journal.record_state(ext, "created", task_id=f"t-{ext}")
    except BaseException:
        (path.parent / f"error-{tag}.txt").write_text(traceback.format_exc())
        raise


# -- budget ---------------------------------------------------------------------------


def test_budget_guard_refuses_before_sending(sim_server: SimulatorServer,
                                             tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    first = client.generate("a fox", n=2).wait(30)  # $0.08, no price known before it
    assert first.cost == Decimal("0.08")
    creates = sim_server.service.stats()["requests"]["create"]
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("another fox", n=1)
    assert sim_server.service.stats()["requests"]["create"] == creates


# -- hostile input ----------------------------------------------------------------------

XSS = '<img src=x onerror=alert(1)>'


def test_prompt_error_and_metadata_are_escaped(sim_server: SimulatorServer,
                                               tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path)
    result = client.generate(f"a fox {XSS}").wait(30)
    result.metadata["note"] = XSS + " from the server"
    html = result_html(result)
    assert XSS not in html
    assert "a fox &lt;img src=x onerror=alert(1)&gt;" in html  # the prompt, escaped
    assert "&lt;img src=x onerror=alert(1)&gt; from the server" in html  # metadata too
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095", message=XSS))
    job = client.generate(XSS)
    with pytest.raises(kirin_jupyter.TaskFailed):
        job.wait(30)
    assert XSS in str(job.error)  # the message itself keeps the text ...
    page = error_html(job)
    assert XSS not in page and "onerror=alert(1)&gt;" in page  # ... but is shown escaped
    assert XSS not in history_html(client.journal.history(limit=10)[0])


def test_hostile_task_ids_never_become_paths(tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=0.1, api_key=TEST_KEY,
                         id_factory=lambda: "../../escape") as server:
        client = client_for(server, tmp_path)
        result = client.generate("a fox").wait(30)
    out = (tmp_path / "out").resolve()
    assert result.paths[0].resolve().is_relative_to(out)
    assert result.paths[0].parent.name.startswith("task-")
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_simulator_binds_loopback_only() -> None:
    with SimulatorServer() as server:
        assert server._server.server_address[0] == "127.0.0.1"
    import inspect

    from kirin_jupyter.simulator.server import SimulatorServer as S

    assert "host" not in inspect.signature(S).parameters


def test_journal_has_no_image_data_and_no_key(sim_server: SimulatorServer, tmp_path: Path,
                                              make_image) -> None:
    client = client_for(sim_server, tmp_path)
    job = client.generate("<<<image_1>>>", images=[make_image(800, 600)])
    job.wait(30)
    request = json.loads(client.journal.get(job.external_task_id)["request"])
    assert request["image_list"][0]["image"].startswith("img_800x600.png sha256:")
    data = b"".join(p.read_bytes() for p in client.journal.path.parent.iterdir() if p.is_file())
    assert TEST_KEY.encode() not in data
    assert b"completed" in (client.journal.path.parent / "kirin.log").read_bytes()


# -- found in review -------------------------------------------------------------------


def test_reusing_an_external_id_is_refused_before_sending(sim_server: SimulatorServer,
                                                          tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path)
    first = client.generate("a red fox", external_task_id="run-1").wait(30)
    creates = sim_server.service.stats()["requests"]["create"]
    with pytest.raises(kirin_jupyter.ValidationError, match="'run-1' was already used"):
        client.generate("a blue whale", n=3, external_task_id="run-1")
    assert sim_server.service.stats()["requests"]["create"] == creates
    assert client.journal.get("run-1")["prompt"] == "a red fox"  # not overwritten
    # Another journal (another machine) does not know it: the service's 409 says so.
    other = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "o",
                   poll_policy=FAST_POLL, home=tmp_path / "other-home")
    job = other.generate("a blue whale", external_task_id="run-1")
    with pytest.raises(kirin_jupyter.APIError, match="'run-1' was already used on this account"):
        job.wait(30)
    assert job.result is None and first.paths[0].is_file()
    assert other.journal.get("run-1")["status"] == "failed"


def test_lookup_failing_after_an_ambiguous_create_stays_resumable(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    sim_server.service.add_fault(Fault("create", "drop"))
    sim_server.service.add_fault(Fault("get", "status", status=400, code="no_lookup", times=1))
    job = client.generate("a fox")
    with pytest.raises(kirin_jupyter.OutcomeUnknown, match="could not tell whether the task"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    [resumed] = client_for(sim_server, tmp_path).resume()
    assert resumed.wait(30).paths
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_a_lost_create_is_posted_once(http_client: Client, sim_server: SimulatorServer) -> None:
    """Not only one task on the service: one POST on the wire (a service that does not
    deduplicate would have billed every extra POST)."""
    sim_server.service.add_fault(Fault("create", "drop"))
    http_client.generate("a fox").wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_budget_with_no_known_price_allows_one_job_in_flight(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    sim_server.service.precharge = False  # a service that quotes nothing: estimates only
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    first = client.generate("a fox", n=9, resolution="2k")  # price unknown: allowed
    with pytest.raises(BudgetExceeded, match="price of this kind of job is not known yet"):
        client.generate("another", n=9, resolution="2k")
    first.wait(30)
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.72 of max_cost \$0.10"):
        client.generate("a third", n=1)
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_with_the_service_quote_no_job_can_pass_the_budget(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    """The first job of a kind is priced by the service before it is sent, so even it is
    refused when it would pass max_cost, and jobs in flight count at their quotes."""
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    with pytest.raises(BudgetExceeded, match=r"this job would cost about \$0.72 \(quoted by "
                       r"the service\) and pass it"):
        client.generate("a fox", n=9, resolution="2k")
    first = client.generate("a fox", n=1)  # $0.04, quoted
    second = client.generate("a cat", n=1)  # $0.08 committed while both run
    assert first.quote is not None and first.quote.source == "service"
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("a third", n=1)  # 0.08 + 0.04 > 0.10, with neither finished
    first.wait(30), second.wait(30)
    assert client.session_spend() == Decimal("0.08") <= client.max_cost
    stats = sim_server.service.stats()["requests"]
    # one quote per kind (n=9 at 2k; n=1 at 1k), shared by the three jobs of the second
    assert stats["create"] == 2 and stats["quote"] == 2


def test_jobs_of_one_kind_share_one_quote_until_it_is_stale(
    sim_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty jobs started at once ask the service for their price once; another kind
    asks again, and so does the same kind once the quote has grown stale."""
    import kirin_jupyter.money.prices as prices_module

    client = client_for(sim_server, tmp_path)
    jobs = [client.generate(f"fox {i}", n=2) for i in range(20)]
    [job.wait(30) for job in jobs]
    assert all(job.quote is not None and job.quote.source == "service" for job in jobs)
    assert {job.quote.cost for job in jobs if job.quote} == {Decimal("0.08")}
    assert sim_server.service.stats()["requests"]["quote"] == 1
    client.generate("a wide fox", n=2, resolution="2k").wait(30)
    assert sim_server.service.stats()["requests"]["quote"] == 2
    monkeypatch.setattr(prices_module, "QUOTE_FRESH_SECONDS", 0.0)
    late = client.generate("fox again", n=2)
    late.wait(30)
    assert sim_server.service.stats()["requests"]["quote"] == 3


def test_a_broken_journal_never_hangs_or_fails_a_paid_job(
    sim_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    client = client_for(sim_server, tmp_path)

    def broken(self: Journal, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    from kirin_jupyter.storage.journal import Journal

    monkeypatch.setattr(Journal, "record_state", broken)  # the journal's own methods fail,
    monkeypatch.setattr(Journal, "record_result", broken)  # in the grouped writer too
    result = client.generate("a fox").wait(30)
    assert result.paths[0].is_file()
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095"))
    with pytest.raises(kirin_jupyter.TaskFailed):
        client.generate("a failing fox").wait(30)


def test_a_task_not_listed_yet_is_waited_for(http_client: Client,
                                             sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("get", "status", status=404, code="not_found", times=2))
    assert http_client.generate("a fox").wait(30).paths


def test_journal_paths_are_absolute(http_client: Client, sim_server: SimulatorServer,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir="rel-out",
                    poll_policy=FAST_POLL)
    job = client.generate("a fox")
    result = job.wait(30)
    assert not result.paths[0].is_absolute()  # links in the notebook stay relative
    row = client.journal.get(job.external_task_id)
    assert all(Path(p).is_absolute() for p in json.loads(row["paths"]))
    assert Path(row["output_dir"]).is_absolute()
    monkeypatch.chdir(tmp_path.parent)  # another folder: nothing to resume
    assert client.resume() == []


def test_key_with_whitespace_is_stripped_and_a_broken_key_refused_unseen(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = Client(api_key=f"  {TEST_KEY}\n", base_url=sim_server.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL)
    assert client.generate("a fox").wait(30).paths
    with pytest.raises(kirin_jupyter.KirinError, match="cannot be sent in an HTTP header") as caught:
        Client(api_key=f"{TEST_KEY}\nX-Evil: 1", base_url=sim_server.url)
    assert TEST_KEY not in str(caught.value)


def test_a_journal_from_an_older_version_is_upgraded(tmp_path: Path) -> None:
    """Found by running the quickstart on a machine with an older journal: every job
    failed with 'no column named owner'."""
    import sqlite3

    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE jobs (external_id TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL,"
        " prompt TEXT NOT NULL, request TEXT NOT NULL, base_url TEXT NOT NULL,"
        " status TEXT NOT NULL, cost TEXT, urls TEXT, paths TEXT, error TEXT,"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE durations (model TEXT NOT NULL, resolution TEXT NOT NULL,"
        " n INTEGER NOT NULL, seconds REAL NOT NULL, at REAL NOT NULL);"
        "INSERT INTO jobs VALUES ('kj-old', 't-old', 'kirin_image_omni', 'an old fox', '{}',"
        " 'http://x', 'completed', '0.04', '[]', '[]', NULL, 1, 1);"
        "INSERT INTO durations VALUES ('kirin_image_omni', '1k', 1, 20.0, 1);"
    )
    old.close()
    journal = Journal(path)
    journal.record_submit("kj-new", "kirin_image_omni", "a new fox", {"n": 1}, "http://x",
                          tmp_path)
    journal.record_duration("kirin_image_omni", "1k", 1, 21.0, 0.5)
    assert journal.get("kj-old")["prompt"] == "an old fox"
    assert journal.get("kj-new")["output_dir"] == str(tmp_path)
    assert sorted(journal.durations("kirin_image_omni", "1k", 1)) == [(20.0, 0.0), (21.0, 0.5)]


# -- a create is never sent twice once it was answered ------------------------------------

def lookup_finds_nothing() -> Fault:
    """Both lookups of an ambiguous create answer 404 (a fresh Fault: they are used up)."""
    return Fault("get", "status", status=404, code="not_found", times=2)


@pytest.mark.parametrize("answer", [
    Fault("create", "malformed"),  # 2xx that cannot be read: the task exists
    Fault("create", "status", status=500),  # 5xx: it may exist
    Fault("create", "status", status=502, message="bad gateway"),
])
def test_an_answered_create_is_never_sent_again(
    sim_server: SimulatorServer, tmp_path: Path, answer: Fault
) -> None:
    """Even when the external-id lookup finds nothing, a create whose request got any
    status line is not repeated: it ends as OutcomeUnknown and stays resumable."""
    sim_server.service.add_fault(answer)
    sim_server.service.add_fault(lookup_finds_nothing())
    client = client_for(sim_server, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(OutcomeUnknown, match="could not tell whether the task was created"):
        job.wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 1
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    if answer.kind == "malformed":  # the task was made: resume finds and finishes it
        [resumed] = client.resume()
        assert resumed.wait(30).paths[0].is_file()
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_a_429_on_create_waits_and_tries_again(sim_server: SimulatorServer, tmp_path: Path
                                               ) -> None:
    sim_server.service.add_fault(Fault("create", "status", status=429,
                                       headers={"Retry-After": "0"}))
    client = client_for(sim_server, tmp_path)
    client.generate("a fox").wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 2  # refused, then accepted
    assert sim_server.service.stats()["tasks"] == 1


@pytest.mark.parametrize("resends, proven, posts", [(1, True, 2), (0, True, 1), (1, False, 1)])
def test_an_unanswered_create_is_resent_only_as_the_setting_allows(
    sim_server: SimulatorServer, tmp_path: Path, resends: int, proven: bool, posts: int
) -> None:
    """The connection closes before any status line and the lookup finds nothing: sent
    once more with the same external id when the setting allows it (the default, 1) and
    only once a lookup by external id has been seen to work on this host (an earlier job
    proved it); otherwise the lookup's "not found" proves nothing and the job ends as
    OutcomeUnknown after one create."""
    client = client_for(sim_server, tmp_path)
    client._api.retry = RetryPolicy(base=0.01, cap=0.05, resend_unanswered=resends)
    before = 0
    if proven:
        client.generate("a first fox").wait(30)  # its create is followed by one lookup
        deadline = time.monotonic() + 10
        while not client._api.facts.lookup_proven and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client._api.facts.lookup_proven
        before = sim_server.service.stats()["requests"]["create"]
    assert client._api.facts.lookup_proven is proven
    sim_server.service.add_fault(Fault("create", "drop"))
    sim_server.service.add_fault(lookup_finds_nothing())
    job = client.generate("a fox")
    if resends and proven:
        job.wait(30)
    else:
        with pytest.raises(OutcomeUnknown, match="could not tell" if proven
                           else "not been seen to work"):
            job.wait(30)
    stats = sim_server.service.stats()
    assert stats["requests"]["create"] - before == posts
    assert job.external_task_id in stats["creates_by_external_id"]


def test_jobs_that_may_be_billed_count_against_the_budget(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    """A timed-out job's task runs on (and will be billed): it counts at its quote until
    its real cost is known; before, timeouts counted as $0 and 8 tasks ran under $0.10."""
    sim_server.service.task_seconds = 60
    client = client_for(sim_server, tmp_path, max_cost="0.10", timeout=0.3)
    for _ in range(2):
        with pytest.raises(TaskTimeout):
            client.generate("a slow fox").wait(30)  # $0.04 each, quoted
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("a third slow fox")
    assert sim_server.service.stats()["requests"]["create"] == 2
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095"))
    sim_server.service.task_seconds = 0.2
    client.timeout = 30
    client.max_cost = Decimal("0.20")
    with pytest.raises(kirin_jupyter.TaskFailed):  # the service failed it: not billed
        client.generate("a failing fox").wait(30)
    client.generate("a cheap fox").wait(30)  # 0.08 + 0.04 <= 0.20: the failure is free
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.12 of max_cost \$0.20"):
        client.generate("a fox too many", n=3)
    for task_id in list(sim_server.service.tasks):  # the slow tasks end; resume fetches them
        sim_server.service.finish_now(task_id)
    for job in client.resume():
        job.wait(30)
    assert client.session_spend() == Decimal("0.12")  # each task once, at its real cost


# -- small gaps (issue 14, item 9) --------------------------------------------------------


def test_result_files_get_the_umask_mode_and_no_part_file_is_left(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    result = client.generate("a fox", n=3).wait(30)
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~old_umask for p in result.paths)
    # Every download is cut short, again and again: the first to give up cancels its
    # siblings mid-way, and no temporary file stays behind.
    sim_server.service.add_fault(Fault("download", "truncate", times=9))
    job = client.generate("a fox", n=3)
    with pytest.raises(kirin_jupyter.DownloadError):
        job.wait(30)
    folder = tmp_path / "out" / job.task_id
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".part")]


def test_downloads_never_reach_link_local_addresses() -> None:
    import asyncio

    import httpx

    from kirin_jupyter.service.http import _refuse_link_local

    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x.png",
                "http://[::ffff:169.254.169.254]/x.png"):
        with pytest.raises(kirin_jupyter.DownloadError, match="link-local"):
            asyncio.run(_refuse_link_local(httpx.Request("GET", url)))
    asyncio.run(_refuse_link_local(httpx.Request("GET", "https://cdn.example.com/a.png")))


def test_a_key_over_plain_http_to_another_host_warns() -> None:
    with pytest.warns(UserWarning, match="over plain http"):
        Client(api_key=TEST_KEY, base_url="http://gateway.example.com")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(api_key=TEST_KEY, base_url="http://127.0.0.1:9")  # loopback: no warning
        Client(api_key=TEST_KEY, base_url="https://gateway.example.com")


# -- resume across kernels (issue 14, item 8) ---------------------------------------------


def _claim(path: Path, ready: object, done: object, out: object) -> None:
    journal = Journal(path)
    ready.wait()  # type: ignore[attr-defined]  # both start claiming together
    claimed, _ = journal.claim_unfinished("http://x")
    out.put([row["external_id"] for row in claimed])  # type: ignore[attr-defined]
    done.wait()  # type: ignore[attr-defined]  # stay alive: the other sees a live owner


def test_two_kernels_resuming_at_once_never_follow_the_same_job(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    ids = [f"kj-{i}" for i in range(30)]
    for ext in ids:
        journal.record_submit(ext, "kirin_image_omni", "p", {"n": 1}, "http://x", tmp_path)
    with journal._connect() as conn:  # as if left by a kernel that is gone
        conn.execute("UPDATE jobs SET owner = 'elsewhere:1'")
    ctx = multiprocessing.get_context("spawn")
    ready, done, out = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(path, ready, done, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    first, second = out.get(timeout=60), out.get(timeout=60)
    for proc in procs:
        proc.join(timeout=60)
    assert not set(first) & set(second)  # no job claimed twice ...
    assert sorted(first + second) == sorted(ids)  # ... and none left out


def test_a_job_held_by_a_live_kernel_is_named_and_can_be_stolen(
    sim_server: SimulatorServer, tmp_path: Path, shell, capsys, monkeypatch
) -> None:
    import socket
    import subprocess
    import sys

    sim_server.service.task_seconds = 0.2
    client = client_for(sim_server, tmp_path)
    job = client.generate("a fox")
    job.wait(30)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}:{other.pid}"
        with client.journal._connect() as conn:  # a live kernel took it after a timeout
            conn.execute("UPDATE jobs SET status = 'timeout', owner = ?", (owner,))
        assert client.resume() == []
        assert client.held_elsewhere == [(job.external_task_id, job.task_id, owner)]
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)  # the magics on the same service
        shell.run_line_magic("config", f"Kirin.base_url = '{sim_server.url}'")
        shell.run_line_magic("kirin", "resume")
        out = " ".join(capsys.readouterr().out.split())  # the note wraps at words
        assert f"job {job.task_id} is followed by another live kernel (process " \
            f"{other.pid} on {socket.gethostname()}); %kirin resume --steal takes it over" in out
        assert "nothing to resume" not in out
        [stolen] = client.resume(steal=True)
        assert stolen.wait(30).task_id == job.task_id
        assert client.journal.get(job.external_task_id)["owner"].endswith(f":{os.getpid()}")
    finally:
        other.terminate()
        other.wait(timeout=10)
