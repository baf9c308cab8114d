"""A quote in another currency never turns the budget off (issue 21, item 9).

Against the strict gateway fake: a service that quotes in credits (as the SDKs' READMEs
show) cannot be held to ``max_cost`` (USD), so a job or a batch is refused in one line and
nothing is created; ``max_credits`` budgets such a service in credits; a ``"failed"``
precharge (COST_CACHE_MISS, cost null) still falls back to the estimate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import kirin_jupyter
from kirin_jupyter import BudgetExceeded
from kirin_jupyter.client import Client
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import PREFIX, Gateway, GatewayServer


def serve(state: Gateway) -> Iterator[Gateway]:
    with GatewayServer(state):
        yield state
    assert state.rejections == []  # the client never sent anything off the protocol


@pytest.fixture
def credit_gateway() -> Iterator[Gateway]:
    """A gateway whose precharge answers in credits: 40 credits a request."""
    yield from serve(Gateway(TEST_KEY, quote_currency="credit", quote_cost="40"))


@pytest.fixture
def usd_gateway() -> Iterator[Gateway]:
    yield from serve(Gateway(TEST_KEY))


def client_for(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, **kw)  # type: ignore[arg-type]


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and TEST_KEY not in text
    return text


# -- max_cost on a service that quotes in credits ----------------------------------------

def test_max_cost_on_a_credit_quote_is_refused_in_one_line(credit_gateway: Gateway,
                                                           tmp_path: Path) -> None:
    client = client_for(credit_gateway, tmp_path, max_cost=5)
    with pytest.raises(BudgetExceeded) as refused:
        client.generate("a fox")
    text = one_line(refused.value)
    assert text.startswith("budget: the service quotes in credit, but max_cost is in USD")
    assert "nothing was sent" in text
    assert "Set max_credits instead (%config Kirin.max_credits = ...)" in text
    assert "unset max_cost (%config Kirin.max_cost = 0)" in text
    assert credit_gateway.quotes == 1 and credit_gateway.creates == 0
    assert client.jobs == []  # nothing registered, nothing to resume


def test_both_limits_on_a_credit_service_say_to_unset_max_cost(credit_gateway: Gateway,
                                                               tmp_path: Path) -> None:
    client = client_for(credit_gateway, tmp_path, max_cost=5, max_credits=1000)
    with pytest.raises(BudgetExceeded, match=r"but max_cost is in USD.*Unset max_cost "
                                             r"\(%config Kirin.max_cost = 0\) to go on"):
        client.generate("a fox")
    assert credit_gateway.creates == 0


def test_max_credits_on_a_usd_quote_is_refused_the_same_way_round(usd_gateway: Gateway,
                                                                  tmp_path: Path) -> None:
    client = client_for(usd_gateway, tmp_path, max_credits=100)
    with pytest.raises(BudgetExceeded) as refused:
        client.generate("a fox")
    text = one_line(refused.value)
    assert text.startswith("budget: the service quotes in USD, but max_credits is in "
                           "credits")
    assert ("Set max_cost instead (%config Kirin.max_cost = ...) and unset max_credits "
            "(%config Kirin.max_credits = 0)") in text
    assert usd_gateway.creates == 0


# -- max_credits ---------------------------------------------------------------------------

def test_max_credits_lets_jobs_run_until_the_credit_sum_would_pass_it(
    credit_gateway: Gateway, tmp_path: Path
) -> None:
    client = client_for(credit_gateway, tmp_path, max_credits="100")
    assert client.max_credits == Decimal(100) and client.max_cost is None
    first = client.generate("a fox")
    assert first.quote is not None and first.quote.credits == Decimal(40)
    first.wait(20)  # finished: its usage.cost is USD, so it counts at its 40-credit quote
    assert first.cost == Decimal("0.14") and client.session_spend() == Decimal("0.14")
    credit_gateway.auto_complete = False  # the second one stays in flight
    second = client.generate("a red fox")
    with pytest.raises(BudgetExceeded) as refused:
        client.generate("a blue fox")
    text = one_line(refused.value)
    assert text == (
        "budget: this session has spent or committed 80 credits of max_credits 100 credits; "
        "this job would cost about 40 credit (quoted by the service) and pass it. Raise the "
        "limit (%config Kirin.max_credits = ...) to go on")
    until(lambda: credit_gateway.creates == 2)  # the second is created, the third not
    assert second.status not in ("completed", "failed")
    credit_gateway.release()
    second.wait(20)
    with pytest.raises(BudgetExceeded, match="spent or committed 80 credits"):
        client.generate("a green fox")  # done, still 80: a finished job never counts as 0
    assert credit_gateway.creates == 2


def test_max_credits_comes_from_config_and_the_magics_show_it(
    credit_gateway: Gateway, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    monkeypatch.setenv("KIRIN_BASE_URL", credit_gateway.url)
    credit_gateway.steps = []  # done at the first look
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "kirin_jupyter")
    try:
        shell.run_line_magic("config", "Kirin.max_credits = 60")
        kirin_jupyter.generate("a fox").wait(30)
        with pytest.raises(BudgetExceeded, match="40 credits of max_credits 60 credits"):
            kirin_jupyter.generate("a red fox")
        assert credit_gateway.creates == 1
        capsys.readouterr()
        shell.run_line_magic("kirin", "config")
        out = capsys.readouterr().out
        assert "Kirin.max_credits = 60.0  (from %config)" in out
        assert "budget:     max_credits 60 credits (the service quotes in credit)" in out
        shell.run_line_magic("kirin", "jobs")
        out = capsys.readouterr().out
        assert "credits committed: 40 of max_credits 60" in out
    finally:
        shell.run_line_magic("unload_ext", "kirin_jupyter")


def test_a_max_credits_that_is_not_an_amount_is_one_error() -> None:
    from kirin_jupyter import ValidationError

    with pytest.raises(ValidationError, match="max_credits must be an amount in credits"):
        Client(max_credits="lots")


# -- batches and sweeps ------------------------------------------------------------------

def test_a_batch_with_max_cost_on_a_credit_service_is_refused(credit_gateway: Gateway,
                                                              tmp_path: Path) -> None:
    client = client_for(credit_gateway, tmp_path, max_cost=5)
    with pytest.raises(BudgetExceeded) as refused:
        client.batch(["a fox", "a red fox", "a blue fox"])
    assert one_line(refused.value).startswith(
        "budget: the service quotes in credit, but max_cost is in USD")
    plan = client.plan_sweep("a fox", aspect_ratio=["1:1", "16:9"])
    assert plan.over_budget is not None and "quotes in credit" in plan.over_budget
    with pytest.raises(BudgetExceeded, match="quotes in credit"):
        client.sweep("a fox", aspect_ratio=["1:1", "16:9"])
    assert credit_gateway.creates == 0 and client.batches == []


def test_a_batch_with_max_credits_is_checked_in_credits(credit_gateway: Gateway,
                                                        tmp_path: Path) -> None:
    client = client_for(credit_gateway, tmp_path, max_credits=100)
    with pytest.raises(BudgetExceeded) as refused:
        client.batch(["a fox", "a red fox", "a blue fox"])
    assert one_line(refused.value).startswith(
        "budget: this batch of 3 jobs would cost 120 credits and this session has spent or "
        "committed 0 credits of max_credits 100 credits; nothing was sent")
    assert credit_gateway.creates == 0
    plan = client.plan_sweep("a fox", aspect_ratio=["1:1", "16:9"])
    assert plan.over_budget is None
    assert plan.price_text() == "about 80 credit (quoted by the service)"
    done = client.batch(["a fox", "a red fox"])
    done.wait(30)
    assert credit_gateway.creates == 2 and len([r for r in done.results if r]) == 2
    with pytest.raises(BudgetExceeded, match="spent or committed 80 credits"):
        client.batch(["a green fox"])  # 80 + 40 > 100: the batch's items count at quotes
    assert credit_gateway.creates == 2


# -- a failed precharge ----------------------------------------------------------------------

def cache_miss(asked: list[str]) -> Callable[[BaseHTTPRequestHandler], None]:
    """The precharge answer of a cache miss: HTTP 200, status failed, cost null."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        asked.append(handler.path)
        body = json.dumps({"status": "failed", "data": {
            "cost": None, "currency": "credit", "reason": "COST_CACHE_MISS"}}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def test_a_failed_precharge_falls_back_to_the_estimate(usd_gateway: Gateway,
                                                       tmp_path: Path) -> None:
    asked: list[str] = []
    usd_gateway.hostile[PREFIX + "/precharge"] = cache_miss(asked)
    client = client_for(usd_gateway, tmp_path, max_cost="0.20")
    first = client.quote("a fox")
    assert first.cost is None and first.source == "unknown"  # no earlier job yet
    client.generate("a fox").wait(20)  # the one job of unknown price: $0.14 learned
    again = client.quote("a fox")
    assert again.cost == Decimal("0.14") and again.source == "estimate"
    with pytest.raises(BudgetExceeded) as refused:
        client.generate("a red fox")
    assert one_line(refused.value) == (
        "budget: this session has spent or committed $0.14 of max_cost $0.20; this job "
        "would cost about $0.14 (estimated from earlier jobs) and pass it. Raise the limit "
        "(%config Kirin.max_cost = ...) to go on")
    assert usd_gateway.creates == 1
    assert len(asked) >= 3  # a failed quote never stops the client asking the route


def test_a_failed_precharge_under_max_credits_uses_the_last_credit_quote(
    credit_gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kirin_jupyter.money.prices.QUOTE_FRESH_SECONDS", 0.0)  # ask every time
    client = client_for(credit_gateway, tmp_path, max_credits=70)
    asked: list[str] = []
    credit_gateway.hostile[PREFIX + "/precharge"] = cache_miss(asked)
    with pytest.raises(BudgetExceeded) as refused:  # no credit price ever seen: refused
        client.generate("a fox")
    assert "the service gave no price in credits for this job" in one_line(refused.value)
    assert credit_gateway.creates == 0 and len(asked) == 1
    del credit_gateway.hostile[PREFIX + "/precharge"]
    client.generate("a fox").wait(20)  # quoted 40 credits
    credit_gateway.hostile[PREFIX + "/precharge"] = cache_miss(asked)
    with pytest.raises(BudgetExceeded, match=r"40 credits of max_credits 70 credits; this "
                                             r"job would cost about 40 credit"):
        client.generate("a red fox")  # the failed quote falls back to the last one: 40
    assert credit_gateway.creates == 1 and len(asked) == 2


def test_the_currency_the_doctor_learned_holds_when_the_quote_fails(
    usd_gateway: Gateway, tmp_path: Path
) -> None:
    asked: list[str] = []
    usd_gateway.hostile[PREFIX + "/precharge"] = cache_miss(asked)
    client = client_for(usd_gateway, tmp_path, max_cost=5)
    client.api.facts.learn("quote_currency", "credit")  # as %kirin doctor keeps it
    assert client.service_currency() == "credit"
    with pytest.raises(BudgetExceeded, match="the service quotes in credit, but max_cost"):
        client.generate("a fox")  # no figure in this quote, but its unit is known
    assert usd_gateway.creates == 0 and len(asked) == 1
