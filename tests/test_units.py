"""Single-purpose units: response parsing, the poll schedule, reference images."""

from __future__ import annotations

import asyncio
import base64
import io
import random
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from kirin_jupyter import ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.engine.job import Job
from kirin_jupyter.engine.polling import (
    Expectation,
    PollPolicy,
    PollSchedule,
    StatusRequestRate,
    expectation,
    prior_seconds,
)
from kirin_jupyter.model.images import fit_image, inspect_bytes, load_reference
from kirin_jupyter.service.http import GatewayHTTP, parse_retry_after
from kirin_jupyter.service.protocol import Endpoint
from kirin_jupyter.service.responses import normalise_status, parse_error, parse_task
from kirin_jupyter.storage.journal import result_path, safe_dirname

# -- responses -------------------------------------------------------------------------


def test_parse_documented_completed_shape() -> None:
    snap = parse_task({
        "id": "t1", "status": "completed",
        "output": [{"content": [{"type": "image", "url": "https://cdn/x.png", "jobId": "j1"},
                                {"type": "video", "url": "https://cdn/v.mp4", "duration": 5}]}],
        "usage": {"cost": "0.12", "discount": 0.5}, "metadata": {"a": 1},
    })
    assert snap.status == "completed" and snap.task_id == "t1"
    assert [i.type for i in snap.items] == ["image", "video"]
    assert snap.items[0].job_id == "j1" and snap.items[1].duration == 5.0
    assert snap.cost == Decimal("0.12") and snap.discount == 0.5 and snap.metadata == {"a": 1}


def test_parse_wrapped_and_alternative_shapes() -> None:
    snap = parse_task({"code": 0, "data": {"task_id": "t2", "task_status": "succeed",
                                           "task_result": {"images": [{"url": "https://u/1"}]}}})
    assert (snap.task_id, snap.status, snap.items[0].url) == ("t2", "completed", "https://u/1")
    assert parse_task({"id": "t3", "status": "PROCESSING"}).status == "running"
    assert parse_task({"id": "t4", "status": "submitted"}).status == "queued"


def test_both_documented_error_shapes() -> None:
    omni = parse_task({"id": "a", "status": "failed", "error": {"code": "002016095",
                                                                "message": "m1"}})
    v3 = parse_task({"id": "b", "status": "failed", "error": {"code": "006001094",
                                                              "error_message": "m2"}})
    assert (omni.error_code, omni.error_message) == ("002016095", "m1")
    assert (v3.error_code, v3.error_message) == ("006001094", "m2")
    assert parse_error({"code": 0, "message": "ok"}) == (None, "ok")


def test_envelopes_never_turn_a_running_task_into_a_failure() -> None:
    """Found in review: envelope codes and numeric statuses must not decide the task's fate."""
    assert parse_task({"status": 200, "code": 10000,
                       "data": {"task_id": "t", "task_status": "succeed",
                                "task_result": {"images": ["https://cdn/1.png"]}}}
                      ).status == "completed"
    running = parse_task({"code": "OK", "data": {"id": "t", "status": "running"}})
    assert (running.status, running.error_code) == ("running", None)
    assert parse_task({"id": "t", "status": "running", "error": {"code": 0}}).status == "running"
    bare = parse_task({"id": "t", "status": "succeeded",
                       "task_result": {"images": ["https://cdn/a.png", "https://cdn/b.png"]}})
    assert [i.url for i in bare.items] == ["https://cdn/a.png", "https://cdn/b.png"]
    assert parse_task({"task_id": "t", "error_code": "006001094"}).status == "failed"


def test_prompt_length_counts_what_is_sent() -> None:
    from kirin_jupyter.model.request import build_request

    assert len(build_request("x" * 2500 + "\n").prompt) == 2500


def test_unknown_status_is_running_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="kirin_jupyter")
    assert normalise_status("Weird-State") == "running"
    assert normalise_status("weird_state") == "running"
    warned = [r.message for r in caplog.records if "unknown task status" in r.message]
    assert len(warned) == 1 and "'Weird-State'" in warned[0]  # as sent, never re-cased


def test_garbage_is_a_value_error() -> None:
    for payload in (None, [], "text", {"hello": 1}):
        with pytest.raises(ValueError):
            parse_task(payload)


def test_error_response_mapping_single_shapes() -> None:
    api = GatewayHTTP(Endpoint("http://x"), "sk-secret")
    auth = api.error_for(httpx.Response(401, json={"error": {"message": "bad key sk-secret"}}))
    assert "set KIRIN_API_KEY" in str(auth) and "sk-secret" not in str(auth)
    missing = api.error_for(httpx.Response(404, json={}), task_id="t-9")
    assert str(missing) == "task t-9 was not found (HTTP 404)"
    said_twice = api.error_for(  # the simulator's own words: not appended a second time
        httpx.Response(404, json={"error": {"code": "not_found",
                                            "message": "task t-9 not found"}}), task_id="t-9")
    assert str(said_twice) == "task t-9 was not found (HTTP 404)"
    limited = api.error_for(httpx.Response(429, headers={"Retry-After": "7"}))
    assert getattr(limited, "retry_after", None) == 7.0
    plain = api.error_for(httpx.Response(500, text="<html>oops</html>"))
    assert str(plain) == "the Kirin API answered HTTP 500"


def test_retry_after_both_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_task_url_escapes_ids() -> None:
    url = Endpoint("http://h/api/", task_path="/v1/tasks/{id}").task_url("a/../b c")
    assert url == "http://h/api/v1/tasks/a%2F..%2Fb%20c"


# -- polling -------------------------------------------------------------------------


def simulate(expected: Expectation | float, actual: float,
             policy: PollPolicy | None = None, seed: int = 1) -> tuple[int, float]:
    """Poll (with a fake clock) a task that completes at ``actual`` s: (requests, latency)."""
    schedule = PollSchedule(expected, policy, rng=random.Random(seed))
    now, requests = 0.0, 0
    while True:
        now += schedule.next_delay(now)
        requests += 1
        if now >= actual:
            return requests, now - actual


def learned(median: float, spread_fraction: float = 0.1) -> Expectation:
    rng = random.Random(7)
    history = [median * (1 + rng.uniform(-spread_fraction, spread_fraction)) for _ in range(20)]
    return expectation(history, prior=999)


def test_a_60s_task_takes_at_most_12_requests_and_is_seen_within_1s() -> None:
    """The issue's target, on a history of tasks that took 60 s +-10 %."""
    exp = learned(60)
    assert exp.learned and 57 < exp.median < 63
    runs = [simulate(exp, 60.0, seed=seed) for seed in range(100)]  # jitter varies
    assert max(r for r, _ in runs) <= 12
    assert sum(lat for _, lat in runs) / len(runs) <= 1.0


def test_tasks_spread_like_their_history_are_still_cheap_and_seen_fast() -> None:
    exp = learned(60)
    rng = random.Random(3)
    runs = [simulate(exp, 60 * (1 + rng.uniform(-0.1, 0.1)), seed=i) for i in range(300)]
    assert sum(r for r, _ in runs) / len(runs) <= 12
    assert max(r for r, _ in runs) <= 15
    assert sum(lat for _, lat in runs) / len(runs) <= 1.0


def test_first_check_is_early_for_fast_failures() -> None:
    schedule = PollSchedule(learned(60), rng=random.Random(0))
    assert schedule.next_delay(0.0) <= 1.1


def test_a_late_task_backs_off_to_the_cap() -> None:
    requests, latency = simulate(learned(20), 200)
    assert latency <= PollPolicy().cap * 1.1
    assert requests < 200 / 5  # fewer than a fixed 5-second poller, itself slow to notice


def test_server_hint_is_honoured() -> None:
    schedule = PollSchedule(learned(60), rng=random.Random(0))
    schedule.next_delay(0.0)
    assert schedule.next_delay(1.0, hint=30.0) >= 27.0


def test_uncertain_samples_widen_the_window_until_precise_ones_exist() -> None:
    """Early tasks end between far-apart checks: +- half the last gap."""
    rough = expectation([(60.0, 8.0), (58.0, 9.0), (62.0, 7.0)], prior=20)
    assert rough.low <= 50 and rough.high >= 69
    mixed = expectation([(60.0, 0.7), (58.5, 0.7), (61.0, 0.7), (40.0, 15.0)], prior=20)
    assert mixed.median == 60.0 and mixed.low > 56  # the rough one no longer counts


def test_expectation_without_history_is_the_prior_widened() -> None:
    exp = expectation([], prior=20.0)
    assert (exp.median, exp.low, exp.high, exp.learned) == (20.0, 10.0, 30.0, False)
    assert prior_seconds("kirin_image_omni", "2k", 4) > prior_seconds("kirin_image_omni", "1k", 1)


def test_request_budget_limits_the_rate() -> None:
    async def take(count: int) -> float:
        budget = StatusRequestRate(rate=200, burst=5)
        started = time.monotonic()
        await asyncio.gather(*(budget.acquire() for _ in range(count)))
        return time.monotonic() - started

    assert asyncio.run(take(45)) >= (45 - 5) / 200 * 0.9


# -- images --------------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def test_every_source_kind_gives_plain_base64(tmp_path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    sources = [
        path, str(path), png_bytes(), Image.new("RGB", (400, 300)),
        np.zeros((300, 400, 3), dtype=np.uint8), np.ones((300, 400), dtype=np.float32),
        "data:image/png;base64," + base64.b64encode(png_bytes()).decode(),
    ]
    for source in sources:
        ref = load_reference(source)
        assert not ref.is_url and not ref.value.startswith("data:")
        assert inspect_bytes(base64.b64decode(ref.value)).width == 400
        assert len(repr(ref)) < 120


def test_numpy_shapes_are_checked() -> None:
    with pytest.raises(ValidationError, match="shape"):
        load_reference(np.zeros((4, 300, 400, 3), dtype=np.uint8))


def test_fit_mends_only_when_asked() -> None:
    tiny_wide = png_bytes((500, 150))  # too small and too wide: padded, then enlarged
    with pytest.raises(ValidationError, match=r"add --fit"):
        load_reference(tiny_wide)
    ref = load_reference(tiny_wide, fit=True)
    assert ref.facts is not None and min(ref.facts.width, ref.facts.height) >= 300
    assert 1 / 2.5 <= ref.facts.width / ref.facts.height <= 2.5
    assert ref.mended and "padded" in ref.mended and "enlarged" in ref.mended


def test_fit_converts_unaccepted_formats() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (500, 500)).save(buf, format="WEBP")
    data, what = fit_image(buf.getvalue())
    assert inspect_bytes(data).format in ("JPEG", "PNG") and what


# -- store ---------------------------------------------------------------------------


def test_server_ids_never_become_path_parts(tmp_path) -> None:
    assert safe_dirname("sim-abc_1.2") == "sim-abc_1.2"
    for hostile in ("../../x", "..", "a/b", "/etc/passwd", "", "x" * 300, "a\x00b"):
        name = safe_dirname(hostile)
        assert "/" not in name and ".." not in name and name.startswith("task-")
    path = result_path(tmp_path, "../../x", 0, ".png/../../y")
    assert path.parent.parent == tmp_path and path.name == "01.png"


@pytest.mark.parametrize("cost", ["NaN", "sNaN", "-100", "Infinity", "-0.01", "abc", [1]])
def test_a_cost_that_is_not_a_finite_amount_is_unknown(cost: object) -> None:
    """A broken service's cost must never become a number that disables the budget."""
    snapshot = parse_task({"id": "t", "status": "completed", "usage": {"cost": cost}})
    assert snapshot.cost is None
    assert parse_task({"id": "t", "status": "completed",
                       "usage": {"cost": "0.28"}}).cost == Decimal("0.28")


def test_a_result_card_shows_when_the_job_finished_not_when_it_was_drawn(
    tmp_path: Path,
) -> None:
    from kirin_jupyter.display.static import result_html
    from kirin_jupyter.engine.job import Result

    finished = time.mktime((2026, 3, 14, 15, 9, 0, 0, 0, -1))
    result = Result("t-1", "kj-1", "kirin_image_omni", "a fox", [], [], finished_at=finished)
    assert "finished 2026-03-14 15:09" in result_html(result)


def test_thumbnails_are_prepared_together_and_a_broken_file_is_left_to_the_card(
        make_image: Callable[..., Path], tmp_path: Path) -> None:
    from kirin_jupyter.storage import thumbnails

    paths = [make_image(320 + i, 240, name=f"p{i}.png") for i in range(3)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    thumbnails.prepare([*paths, broken])
    with thumbnails._lock:
        cached = {key[0] for key in thumbnails._cache}
    assert {str(p) for p in paths} <= cached and str(broken) not in cached
    with pytest.raises(OSError):  # the card's own call still sees the error
        thumbnails.thumbnail_jpeg(broken)


def test_a_signed_url_reference_keeps_its_token_out_of_labels_and_summaries() -> None:
    url = "https://cdn.example.com/ref.png?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA1"
    client = Client()
    request = client.build("a fox like <<<image_1>>>", images=[url])
    assert request.images[0].value == url  # the service still gets the whole URL
    assert request.images[0].label == "https://cdn.example.com/ref.png"
    assert "s3cr3t" not in repr(request) and "s3cr3t" not in str(request.summary())


def test_a_broken_listener_never_breaks_the_job_or_the_other_listeners(
        http_client: Client) -> None:
    seen: list[str] = []

    def broken(job: Job) -> None:
        raise RuntimeError("a display that fails")

    job = http_client.generate("a fox")
    with pytest.raises(RuntimeError):  # called once at once: its own caller sees it
        job.add_listener(broken)  # ... and it is kept, so later changes call it again
    job.add_listener(lambda j: seen.append(j.status))
    result = job.wait(30)
    assert result.paths and seen[-1] == "completed"
