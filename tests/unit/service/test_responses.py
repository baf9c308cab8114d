"""Reading the service's answers: both documented shapes, envelopes, costs, garbage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kirin_jupyter.service.responses import normalise_status, parse_error, parse_task


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


@pytest.mark.parametrize("cost", ["NaN", "sNaN", "-100", "Infinity", "-0.01", "abc", [1]])
def test_a_cost_that_is_not_a_finite_amount_is_unknown(cost: object) -> None:
    """A broken service's cost must never become a number that disables the budget."""
    snapshot = parse_task({"id": "t", "status": "completed", "usage": {"cost": cost}})
    assert snapshot.cost is None
    assert parse_task({"id": "t", "status": "completed",
                       "usage": {"cost": "0.28"}}).cost == Decimal("0.28")
