"""``%kirin doctor`` / ``kirin.doctor()``: settle what the gateway's public clients leave
unknown, on the user's own account and host, at no cost.

Nothing here creates a task: it asks for a task that cannot exist (is the host there, is
the key accepted?) and for two price quotes (is there a precharge route, in which currency,
and does the service take the model from the ``X-Model`` header alone?). What it learns is
kept in the journal's host facts (``host_facts``), where the client uses it: no quotes
asked of a host without the route, and the currency of its prices known before a budget is
checked.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import KirinError
from ..model import spec
from ..model.request import build_request
from ..storage.host_facts import NO, YES
from .responses import parse_quote

if TYPE_CHECKING:
    from .http import GatewayHTTP

_NO_ROUTE = (404, 405, 501)


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table."""

    name: str  # the host fact's name
    question: str
    answer: str  # "yes", "no", a currency, or "unknown"
    detail: str


async def examine(api: GatewayHTTP) -> list[Check]:
    """Ask the host every question (in order: each needs the one before)."""
    checks: list[Check] = []
    probe = f"kirin-doctor-{uuid.uuid4().hex}"  # a task id no one has
    try:
        response = await api.send_request("GET", api.endpoint.task_url(probe))
    except (httpx.HTTPError, KirinError) as exc:
        checks.append(Check("host_answers", "does the host answer?", NO,
                            f"no answer from {api.endpoint.base_url} "
                            f"({exc.__class__.__name__})"))
        return checks
    checks.append(Check("host_answers", "does the host answer?", YES,
                        f"HTTP {response.status_code} from {api.endpoint.base_url}"))
    status = response.status_code
    if status in (401, 403):
        checks.append(Check("key_accepted", "is the key accepted?", NO,
                            f"a lookup answered HTTP {status}: {api.error_for(response)}"))
        return checks
    accepted = YES if status == 404 else "unknown"
    checks.append(Check("key_accepted", "is the key accepted?", accepted,
                        "a lookup of a task that cannot exist answered 404 (not found), "
                        "so the key passed" if status == 404 else
                        f"a lookup of a task that cannot exist answered HTTP {status}"))
    checks.extend(await _quote_checks(api))
    proven = api.facts.lookup_proven
    checks.append(Check(
        "lookup_by_external_id", "does a lookup by external id find a task?",
        YES if proven else api.facts.get("lookup_by_external_id") or "unknown",
        "seen to work here: a create whose answer is lost may be sent again once" if proven
        else "not proven on this host: a create whose answer is lost is never sent again; "
        "the first job checks it (one lookup after its create)"))
    return checks


async def _quote_checks(api: GatewayHTTP) -> list[Check]:
    request = build_request("a doctor's check: nothing is created", model=spec.OMNI, n=1)
    with_model = api.endpoint.wire_body(request.body())
    response = await api.send_request("POST", api.endpoint.quote_url(),
                                      content=json.dumps(with_model).encode(),
                                      headers=_headers(request.model.name))
    if response.status_code in _NO_ROUTE:
        return [Check("precharge_route", "is there a price quote (precharge) route?", NO,
                      f"HTTP {response.status_code} at {api.endpoint.quote_path}: prices are "
                      "estimated from earlier jobs")]
    quoted = _quote_of(api, response)
    checks = [Check("precharge_route", "is there a price quote (precharge) route?", YES,
                    f"HTTP {response.status_code} at {api.endpoint.quote_path}")]
    if quoted is None:
        checks.append(Check("quote_currency", "in which currency does it quote?", "unknown",
                            "the quote named no usable cost"))
        return checks
    cost, currency = quoted
    checks.append(Check("quote_currency", "in which currency does it quote?", currency,
                        f"one {spec.OMNI} image at 1k: {cost} {currency}"))
    without_model = {key: value for key, value in with_model.items() if key != "model"}
    response = await api.send_request("POST", api.endpoint.quote_url(),
                                      content=json.dumps(without_model).encode(),
                                      headers=_headers(request.model.name))
    same = _quote_of(api, response) == quoted
    checks.append(Check(
        "model_header_only", "is a body without model, with X-Model only, priced the same?",
        YES if same else NO,
        "yes: a gateway of the newer SDKs' kind (kirin-jupyter sends both anyway)" if same
        else f"no (HTTP {response.status_code}): the body's model is needed, and is sent"))
    return checks


def _headers(model: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Model": model}


def _quote_of(api: GatewayHTTP, response: httpx.Response) -> tuple[str, str] | None:
    if response.status_code >= 400:
        return None
    try:
        answer = parse_quote(api.json_of(response))
    except (ValueError, ArithmeticError):
        return None
    return None if answer.cost is None else (str(answer.cost), answer.currency)


def as_dict(checks: list[Check], base_url: str, why: str) -> dict[str, Any]:
    """What ``kirin.doctor()`` returns: the host, why it is used, and each answer."""
    return {"host": base_url, "why": why,
            "checks": {check.name: {"question": check.question, "answer": check.answer,
                                    "detail": check.detail} for check in checks}}


def table(report: dict[str, Any]) -> str:
    """The one table ``%kirin doctor`` prints."""
    rows = [(row["question"], row["answer"], row["detail"])
            for row in report["checks"].values()]
    width = max((len(q) for q, _, _ in rows), default=10)
    lines = [f"host: {report['host']} ({report['why']})", "nothing was created or billed", ""]
    lines += [f"{q:<{width}}  {a:<8} {d}" for q, a, d in rows]
    return "\n".join(lines)
