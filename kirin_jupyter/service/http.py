"""HTTP to the Kirin gateway: create, query, quote, find by external id, download.

Async, on httpx, used only from the engine's loop. Error responses become readable
exceptions here; GETs are retried (backoff with full jitter, ``Retry-After`` honoured);
creation is exactly-once through ``external_task_id``.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from ..base.file_modes import new_file_mode
from ..base.retrying import TryAgain, with_retries
from ..errors import (
    AnswerCut,
    APIError,
    AuthenticationError,
    DownloadError,
    InsufficientBalance,
    KirinError,
    LimitExceeded,
    OutcomeUnknown,
    ResultExpired,
    ServiceBusy,
    ServiceUnavailable,
    SubmitRefused,
)
from ..model import spec
from ..storage.host_facts import LOOKUP, NO, YES, HostFacts
from .protocol import Endpoint
from .responses import QuoteAnswer, TaskSnapshot, parse_error, parse_quote, parse_task

log = logging.getLogger("kirin_jupyter")
T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Sendable(Protocol):
    """What create and quote send: a generation, or an element (``model.elements``)."""

    @property
    def external_task_id(self) -> str: ...

    @property
    def model(self) -> _Named: ...

    def body(self) -> dict[str, Any]: ...

_EXPIRED_STATUSES = (403, 404, 410)
# Requests on the wire at once (httpx keeps 20 idle connections, opens up to 100); the
# rest wait in a semaphore. 2,000 jobs queued in httpx's own pool failed with PoolTimeout,
# and httpcore checks every connection of its pool on every request: 8 at once cost 18 ms
# of CPU per job, 20 cost 26. At 150 ms a round trip, 8 still carry the 50 status requests
# a second that PollPolicy allows; a 9-image result downloads all at once.
_IN_FLIGHT = 8
_DOWNLOADS_IN_FLIGHT = 9
_NO_SUCH_ROUTE = (404, 405, 501)  # a service without a precharge route
STREAMS_AT_ONCE = 64  # task streams open at once (each holds a connection); more jobs poll


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0
    resend_unanswered: int = 1  # creates sent again after getting no answer at all

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


@dataclass(frozen=True)
class Limits:
    """What the client accepts from a service, so a broken or hostile one cannot fill
    the disk or memory, or hold a job forever. Real answers are far below each one."""

    result_bytes: int = 64_000_000  # one result file (a 2k PNG is a few MB)
    answer_bytes: int = 4_000_000  # one JSON answer of the API
    result_pixels: int = 40_000_000  # one result image, checked before decoding
    request_seconds: float = 300.0  # one whole request, body included


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _encode_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def documented_error(code: str | None, detail: str | None) -> str | None:
    """'Kirin error CODE: meaning. What to do. (service says: ...)' for a documented code."""
    documented = spec.describe_error_code(code) if code else None
    if not documented:
        return None
    text = f"Kirin error {code}: {documented}"
    if detail and detail.lower() not in documented.lower():
        text += f" (service says: {detail})"
    return text


BUSY_CODE = "006001094"  # "Task resource insufficient" (the v3 page)
_BUSY_WORDS = re.compile(
    r"concurren|resource insufficient|too many (?:running |concurrent |active )?"
    r"(?:tasks|jobs|requests)|rate limit|capacity", re.IGNORECASE)


def is_busy_signal(code: str | None, message: str | None) -> bool:
    """Does an error say "no room now, try later" rather than "this request is wrong"?"""
    return code == BUSY_CODE or bool(message and _BUSY_WORDS.search(message))


# "Insufficient balance or permission denied" is HTTP 403 in the Vtrix error tables; the
# SeaCloud CLI (internal/clierrors) also knows these error codes and words.
BALANCE_CODES = frozenset(str(code) for code in range(40201, 40209))
_BALANCE_WORDS = re.compile(r"(?:insufficient|not enough|low)\s+(?:account\s+)?"
                            r"(?:balance|credits?|funds)|balance\s+(?:is\s+)?"
                            r"(?:insufficient|not enough|too low)|arrears|top[\s-]?up",
                            re.IGNORECASE)


def is_balance_signal(code: str | None, message: str | None) -> bool:
    """Does an error say "the account cannot pay", rather than "the key is wrong"?"""
    return (code in BALANCE_CODES) or bool(message and _BALANCE_WORDS.search(message))


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class GatewayHTTP:
    """One service connection (pooled); lives on the engine's loop."""

    def __init__(
        self,
        endpoint: Endpoint,
        api_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        request_timeout: float = 30.0,
        rng: random.Random | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._key = api_key
        self._key_pattern: re.Pattern[str] | None = None
        self._transport = transport
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = request_timeout
        self._rng = rng or random.Random()
        self.limits = limits or Limits()
        self._api: httpx.AsyncClient | None = None
        self._downloads: httpx.AsyncClient | None = None
        self._streams: httpx.AsyncClient | None = None
        self.stream_slots = asyncio.Semaphore(STREAMS_AT_ONCE)
        self._api_slots = asyncio.Semaphore(_IN_FLIGHT)  # bound to a loop when first waited on
        self._download_slots = asyncio.Semaphore(_DOWNLOADS_IN_FLIGHT)
        self.facts = HostFacts(endpoint.base_url)  # the client gives the journal's
        self._proving = False  # one lookup proof at a time, and one answer per process
        self._lookup_checked = False
        self._background: set[asyncio.Future[bool | None]] = set()

    def __repr__(self) -> str:
        return f"GatewayHTTP({self.endpoint.base_url!r}, key={'set' if self._key else 'none'})"

    def redact(self, text: str) -> str:
        """Never let the key through, even if a server echoes it back, in any letter case
        (a case change is undone by one .lower())."""
        if not self._key:
            return text
        if self._key_pattern is None:
            self._key_pattern = re.compile(re.escape(self._key), re.IGNORECASE)
        return self._key_pattern.sub("***", text)

    def json_of(self, response: httpx.Response) -> Any:
        """The answer's JSON with the key taken out of every string in it, before anything
        reads, truncates, logs, stores or shows any part of it (a hostile service may echo
        the key in an error code, a status word or metadata, escaped as it likes)."""
        return _redacted(response.json(), self.redact) if self._key else response.json()

    def _readable_task(self, response: httpx.Response) -> TaskSnapshot | None:
        """The task in a 2xx create answer, or None when it names none that can be read."""
        try:
            snapshot = parse_task(self.json_of(response))
        except (ValueError, ArithmeticError):
            return None
        return snapshot if snapshot.task_id else None

    # -- connections ---------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._api is None:
            headers = {"User-Agent": "kirin-jupyter/0.1"}
            if self._key:
                headers["Authorization"] = f"Bearer {self._key}"
            self._api = httpx.AsyncClient(
                headers=headers, timeout=self._timeout, transport=self._transport,
                limits=_pool_limits(_IN_FLIGHT),
            )
        return self._api

    def _download_client(self) -> httpx.AsyncClient:
        """No Authorization header: result URLs are often on another host (a CDN)."""
        if self._downloads is None:
            self._downloads = httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=True, transport=self._transport,
                headers={"User-Agent": "kirin-jupyter/0.1"},
                event_hooks={"request": [_refuse_link_local]},  # every hop of a redirect
                limits=_pool_limits(_DOWNLOADS_IN_FLIGHT),
            )
        return self._downloads

    def stream_client(self) -> httpx.AsyncClient:
        """Task streams (``task_stream.py``) each hold a connection for a task's whole
        life: their own pool, so they never starve the status and create requests."""
        if self._streams is None:
            headers = {"User-Agent": "kirin-jupyter/0.1"}
            if self._key:
                headers["Authorization"] = f"Bearer {self._key}"
            self._streams = httpx.AsyncClient(
                headers=headers, transport=self._transport,
                timeout=httpx.Timeout(self._timeout, read=None),  # the caller bounds silence
                limits=httpx.Limits(max_connections=STREAMS_AT_ONCE,
                                    max_keepalive_connections=0))
        return self._streams

    def is_open(self) -> bool:
        return any(c is not None for c in (self._api, self._downloads, self._streams))

    async def aclose(self) -> None:
        for client in (self._api, self._downloads, self._streams):
            if client is not None:
                await client.aclose()
        self._api = self._downloads = self._streams = None

    # -- errors --------------------------------------------------------------------------

    def error_for(self, response: httpx.Response, task_id: str | None = None) -> APIError:
        """A readable exception for an error response."""
        try:
            payload: Any = self.json_of(response)
        except ValueError:
            payload = None
        code, server_message = parse_error(payload)
        status = response.status_code
        detail = self.redact(one_line(server_message)) if server_message else ""
        documented = documented_error(code, detail)
        balance = status == 402 or is_balance_signal(code, server_message)
        if balance and status < 500:
            also = f", error {code}" if code and code != str(status) else ""
            text = (f"the Kirin account has insufficient balance (HTTP {status}{also}); "
                    "top up your account and retry")
        elif documented:
            text = documented
        elif status == 401:
            text = "the Kirin API refused the key (HTTP 401); set KIRIN_API_KEY or run " \
                "%kirin login"
        elif status == 403:
            text = ("the Kirin API refused the request (HTTP 403): either the key is not "
                    "allowed (set KIRIN_API_KEY or run %kirin login) or the account's "
                    "balance is too low (top it up)")
        elif status == 404 and task_id:
            text = f"task {task_id} was not found (HTTP 404)"
        elif status == 429:
            text = "the Kirin API is rate limiting this key (HTTP 429); wait and retry"
        else:
            text = f"the Kirin API answered HTTP {status}"
            if code:
                text += f" with error {code}"
        restated = status == 404 and bool(task_id) and "not found" in detail.lower()
        if detail and not documented and detail not in text and not restated:
            text += f": {detail}"
        kwargs: dict[str, Any] = {"code": code, "status_code": status, "task_id": task_id}
        if balance and status < 500:
            return InsufficientBalance(text, **kwargs)
        if status in (401, 403) and not documented:
            return AuthenticationError(text, **kwargs)
        if status == 429 or is_busy_signal(code, server_message):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return ServiceBusy(text, retry_after=retry_after, **kwargs)
        if status >= 500 and not documented:
            return ServiceUnavailable(text, **kwargs)
        return APIError(text, **kwargs)

    # -- requests ------------------------------------------------------------------------

    async def _send(self, method: str, url: str, *, limits: Limits | None = None,
                    **kwargs: Any) -> httpx.Response:
        """One API request, read whole within ``limits.request_seconds`` and at most
        ``limits.answer_bytes`` (a 1 GiB status answer was read into memory before);
        ``limits`` (tighter ones, for a model's document) stand in for the client's.

        Raises an ``httpx.TransportError`` only when no status line came back; once one
        has, any failure to get the rest is ``AnswerCut`` (or ``LimitExceeded``): the
        request arrived, which decides whether a create may be sent again.
        """
        seen: list[int] = []  # the status code, once the status line is in
        bounds = limits or self.limits
        try:
            async with self._api_slots:  # the wait for a slot is not the request's time
                return await asyncio.wait_for(
                    self._send_capped(method, url, seen, bounds.answer_bytes, **kwargs),
                    bounds.request_seconds)
        except asyncio.TimeoutError:
            if seen:
                raise AnswerCut(f"the answer (HTTP {seen[0]}) did not finish within "
                                f"{bounds.request_seconds:g} s", status_code=seen[0]
                                ) from None
            raise httpx.ReadTimeout(
                f"no answer within {bounds.request_seconds:g} s") from None

    async def _send_capped(self, method: str, url: str, seen: list[int], cap: int,
                           **kwargs: Any) -> httpx.Response:
        async with self._client().stream(method, url, **kwargs) as response:
            seen.append(response.status_code)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise LimitExceeded(_too_large("an API answer", int(declared), cap),
                                    status_code=response.status_code)
            body = bytearray()
            try:
                async for chunk in response.aiter_bytes(1 << 16):  # decoded (gzip ...)
                    body += chunk
                    if len(body) > cap:
                        raise LimitExceeded(_too_large("an API answer", len(body), cap),
                                            status_code=response.status_code)
            except httpx.HTTPError as exc:  # cut off, or a body that does not decode
                raise AnswerCut(f"the answer (HTTP {response.status_code}) was cut off "
                                f"({exc.__class__.__name__})",
                                status_code=response.status_code) from None
        headers = [(k, v) for k, v in response.headers.multi_items()  # already decoded:
                   if k.lower() not in ("content-encoding", "content-length",
                                        "transfer-encoding")]  # not to be decoded again
        return httpx.Response(response.status_code, headers=headers, content=bytes(body),
                              request=response.request)

    async def send_request(self, method: str, url: str, *, limits: Limits | None = None,
                           **kwargs: Any) -> httpx.Response:
        """One request, bounded like every other (or by ``limits``), not retried: for the
        doctor's questions and the models' documents."""
        return await self._send(method, url, limits=limits, **kwargs)

    async def _retry_wait(self, attempt: int, response: httpx.Response | None) -> None:
        delay = self.retry.backoff(attempt, self._rng)
        if response is not None:
            hinted = parse_retry_after(response.headers.get("Retry-After"))
            if hinted is not None:
                delay = min(hinted, self.retry.max_retry_after) + self._rng.uniform(0, 0.1)
        await self._sleep(delay)

    async def get_task(self, task_id: str, *, missing_ok: bool = False,
                       keep_raw: bool = False) -> TaskSnapshot | None:
        """GET the task (by task id or external id); retried on 5xx, 429 and network errors.
        ``keep_raw``: the snapshot keeps the answer's (redacted) JSON as ``raw``."""

        def read(payload: Any, response: httpx.Response) -> TaskSnapshot:
            snapshot = parse_task(payload)
            if keep_raw:
                snapshot = replace(snapshot, raw=payload)
            hint = parse_retry_after(response.headers.get("Retry-After"))
            return replace(snapshot, retry_after=hint) if hint else snapshot

        return await self.get_read(self.endpoint.task_url(task_id), task_id, read,
                                   missing_ok=missing_ok, what="valid task JSON")

    async def get_read(self, url: str, task_id: str,
                       read: Callable[[Any, httpx.Response], T], *, missing_ok: bool = False,
                       what: str = "JSON") -> T | None:
        """One GET of a task's state, its (redacted) JSON made into what ``read`` returns;
        retried on 5xx, 429, network errors and an answer ``read`` cannot take (a
        ``ValueError``); None on a 404 when ``missing_ok``. Both protocols' status and
        result requests go through here."""

        async def attempt() -> T | None:
            try:
                response = await self._send("GET", url)
            except httpx.TransportError as exc:
                raise TryAgain(ServiceUnavailable(
                    f"could not reach the Kirin API ({exc.__class__.__name__})",
                    task_id=task_id)) from None
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code >= 400:
                error = self.error_for(response, task_id)
                if response.status_code != 429 and response.status_code < 500:
                    raise error
                raise TryAgain(error, response)
            try:
                return read(self.json_of(response), response)
            except ValueError:
                raise TryAgain(ServiceUnavailable(
                    f"the Kirin API sent a response that is not {what}",
                    task_id=task_id), response) from None

        return await with_retries(attempt, attempts=self.retry.attempts,
                                  wait=self._retry_wait)

    async def find_by_external_id(self, external_task_id: str) -> TaskSnapshot | None:
        """The task created with this external id, or None if the service has none."""
        return await self.get_task(external_task_id, missing_ok=True)

    async def create(self, request: Sendable, *, busy_raises: bool = False,
                     sent_before: bool = False) -> TaskSnapshot:
        """POST the task at most once, even when its answer is lost.

        - No connection made (refused, DNS, connect timeout): nothing arrived; retried.
        - "No room now" (HTTP 429, error 006001094 or a message about concurrency): the
          service refused the request; it waits and tries again, or raises
          ``ServiceBusy`` at once when ``busy_raises`` (a batch slows down instead).
        - HTTP 409 after such a refusal, or when ``sent_before`` (this request was sent
          earlier and refused as busy): the task is looked up by its external id.
        - Any other 4xx (but 409): refused; raised as is, nothing was created.
        - Any other answer with a status line (2xx it cannot read, 409, 5xx): the service
          got it, so it is never sent again: the task is looked up by its external id
          instead, and ``OutcomeUnknown`` (resumable) is raised when none is found.
        - A connection lost before any status line: looked up the same way; if nothing
          is found, sent again with the same external id at most ``resend_unanswered``
          times (0: never).
        """
        body = await asyncio.to_thread(self._wire, request)  # once for every attempt
        external_id = request.external_task_id
        resends_left = self.retry.resend_unanswered
        maybe_created = False
        last: KirinError | None = None
        try:
            for attempt in range(self.retry.attempts):
                response: httpx.Response | None = None
                try:
                    response = await self._send(
                        "POST", self.endpoint.create_url(), content=body,
                        headers=_body_headers(request),
                    )
                except (httpx.ConnectError, httpx.ConnectTimeout,
                        httpx.LocalProtocolError) as exc:  # it never left this machine
                    last = ServiceUnavailable(
                        f"could not reach the Kirin API ({exc.__class__.__name__})")
                except (AnswerCut, LimitExceeded) as exc:  # answered, then the rest failed
                    maybe_created = True  # it got there: never POST it again
                    return await self._found_or_raise(external_id, attempt, exc)
                except httpx.TransportError as exc:  # sent, but no status line came back
                    maybe_created = True
                    last = ServiceUnavailable(
                        f"lost the connection while creating the task ({exc.__class__.__name__})")
                    found = await self._look_twice(external_id, attempt)
                    if found is not None:
                        return found
                    if not self.facts.lookup_proven:  # its "not found" proves nothing
                        raise OutcomeUnknown(
                            "lost the answer to the create, and a lookup by external id "
                            "has not been seen to work on this host, so it is not sent "
                            "again (it may exist): %kirin resume (or "
                            "kirin_jupyter.resume()) looks it up later") from None
                    if resends_left <= 0:
                        raise last from None
                    resends_left -= 1
                    log.info("create for external id %s got no answer and is not listed; "
                             "sending it once more with the same id", external_id)
                    continue
                else:
                    status = response.status_code
                    snapshot = self._readable_task(response) if status < 300 else None
                    if snapshot is not None:
                        self._prove_lookup_later(external_id, snapshot.task_id)
                        return snapshot
                    error = self.error_for(response) if status >= 400 \
                        else self._busy_in_body(response) or self._refused_in_body(response)
                    if isinstance(error, (SubmitRefused, InsufficientBalance)):
                        raise error  # answered "no" with no task: nothing was created
                    if isinstance(error, ServiceBusy):
                        if busy_raises:
                            raise error
                        sent_before = True  # a 409 later means this one got through
                        last = error
                    elif error is not None and 400 <= status < 500 and status != 409:
                        raise error
                    elif status == 409 and not maybe_created and not sent_before:
                        raise APIError(  # our very first POST: the id was used before
                            f"external task id {external_id!r} was already used on this "
                            "account; ids must be unique (leave it out to get a fresh one)",
                            code="409", status_code=409,
                        )
                    else:
                        maybe_created = True  # it got there: never POST it again
                        return await self._found_or_raise(
                            external_id, attempt,
                            self.error_for(response) if status >= 300 else ServiceUnavailable(
                                f"the Kirin API sent an unreadable create response "
                                f"(HTTP {status})"))
                if attempt + 1 < self.retry.attempts:
                    await self._retry_wait(attempt, response)
            assert last is not None
            raise last
        except KirinError as exc:
            if maybe_created and not isinstance(exc, OutcomeUnknown):
                raise OutcomeUnknown(
                    f"could not tell whether the task was created ({exc}); it is not sent "
                    "again: %kirin resume (or kirin_jupyter.resume()) looks it up later",
                    status_code=getattr(exc, "status_code", None),
                ) from None
            raise

    async def quote(self, request: Sendable) -> QuoteAnswer | None:
        """The service's price for ``request`` (its precharge route; nothing is created).

        None when the service has no such route (404, 405, 501). Any other failure is a
        ``QuoteAnswer`` without a cost that says why: a price is a courtesy, never a reason
        to fail a job, so nothing here is retried.
        """
        body = await asyncio.to_thread(self._wire, request)
        try:
            response = await self._send(
                "POST", self.endpoint.quote_url(), content=body,
                headers=_body_headers(request),
            )
        except (httpx.HTTPError, KirinError) as exc:
            return QuoteAnswer(None, reason=f"no usable quote ({exc.__class__.__name__})")
        if response.status_code in _NO_SUCH_ROUTE:
            return None
        if response.status_code >= 400:
            return QuoteAnswer(None, reason=str(self.error_for(response)))
        try:
            return parse_quote(self.json_of(response))
        except (ValueError, ArithmeticError):
            return QuoteAnswer(None, reason="the quote is not JSON with a usable cost")

    def _busy_in_body(self, response: httpx.Response) -> ServiceBusy | None:
        """A 2xx answer that carries no task but a "no room now" error (gateways often
        answer HTTP 200 with an error code in the body)."""
        try:
            code, message = parse_error(self.json_of(response))
        except ValueError:
            return None
        if not is_busy_signal(code, message):
            return None
        detail = self.redact(one_line(message)) if message else None
        text = documented_error(code, detail) or f"the service is busy: {detail or code}"
        return ServiceBusy(text, code=code, status_code=response.status_code,
                           retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _refused_in_body(self, response: httpx.Response) -> APIError | None:
        """A 2xx create answer that carries an error and no task id: the submit failed
        (seacloud-cli reports the service's words as the failure; the SDKs raise "no task
        ID"). Nothing was created, so it is not looked up, billed or left to resume. Asked
        only of an answer in which ``_readable_task`` found no task id."""
        try:
            payload = self.json_of(response)
        except ValueError:
            return None
        code, message = parse_error(payload)
        if code is None and message is None:
            return None
        detail = self.redact(one_line(message)) if message else ""
        if is_balance_signal(code, message):
            return InsufficientBalance(
                f"the Kirin account has insufficient balance ({detail or f'error {code}'}); "
                "top up your account and retry", code=code, status_code=response.status_code)
        said = documented_error(code, detail) or (
            f"{detail} (error {code})" if detail and code else detail or f"error {code}")
        return SubmitRefused(f"the Kirin API refused the task: {said}; nothing was created",
                             code=code, status_code=response.status_code)

    async def _found_or_raise(self, external_id: str, attempt: int, error: KirinError
                              ) -> TaskSnapshot:
        """After a create that was answered but not usably: its task, or ``error``."""
        found = await self._look_twice(external_id, attempt)
        if found is None:
            raise error
        return found

    def _wire(self, request: Sendable) -> bytes:
        """The create (and quote) body as sent: up to 100 MB of base64, so callers encode
        it off the loop, once."""
        return _encode_json(self.endpoint.wire_body(request.body()))

    async def _look_twice(self, external_id: str, attempt: int) -> TaskSnapshot | None:
        """Find the task after an ambiguous create; 'absent' only if two lookups, seconds
        apart, agree (a slow service may not list a task it is still creating)."""
        await self._sleep(max(0.5, self.retry.backoff(attempt, self._rng)))
        found = await self.find_by_external_id(external_id)
        if found is None:
            await self._sleep(max(2.0, self.retry.backoff(attempt + 1, self._rng)))
            found = await self.find_by_external_id(external_id)
        if found is not None:
            log.info("task for external id %s found after an ambiguous create", external_id)
            await asyncio.to_thread(self.facts.learn, LOOKUP, YES)
        return found

    def _prove_lookup_later(self, external_id: str, task_id: str | None) -> None:
        """After a create that answered, check once (in the background, one GET) that a
        lookup by its external id finds the same task: until that has been seen on this
        host, a create whose answer is lost is never sent again."""
        if self.facts.lookup_proven or self._proving or self._lookup_checked or not task_id:
            return
        self._proving = True
        proof = asyncio.ensure_future(self.prove_lookup(external_id, task_id))
        self._background.add(proof)
        proof.add_done_callback(self._background.discard)

    async def prove_lookup(self, external_id: str, task_id: str) -> bool | None:
        """Does GET by ``external_id`` return task ``task_id``? Kept in the host's facts;
        None (nothing kept) when the service could not be asked."""
        try:
            found = await self.get_task(external_id, missing_ok=True)
        except (KirinError, httpx.HTTPError) as exc:
            log.info("could not check the lookup by external id (%s)", exc.__class__.__name__)
            return None
        finally:
            self._proving = False
        proven = found is not None and found.task_id == task_id
        self._lookup_checked = True
        await asyncio.to_thread(self.facts.learn, LOOKUP, YES if proven else NO)
        log.info("lookup by external id on %s: %s", self.endpoint.base_url,
                 "works" if proven else "does not find the task")
        return proven

    async def download(self, url: str, dest: Path, *, attempts: int = 3,
                       check: Callable[[Path], T] | None = None) -> tuple[Path, T | None]:
        """Stream ``url`` to a temp file beside ``dest``, pass it through ``check`` (in a
        thread; ``DownloadError`` means fetch again), then rename it to ``dest``.
        Returns the path and what ``check`` returned."""
        dest.parent.mkdir(parents=True, exist_ok=True)

        async def attempt() -> tuple[Path, T | None]:
            try:
                async with self._download_slots:
                    tmp = await asyncio.wait_for(self._stream_to_temp(url, dest.parent),
                                                 self.limits.request_seconds)
            except asyncio.TimeoutError:
                raise LimitExceeded(
                    f"a result download did not finish within "
                    f"{self.limits.request_seconds:g} s (limits.request_seconds)") from None
            except (ResultExpired, LimitExceeded):
                raise  # fetching again would not help
            except (httpx.TransportError, APIError) as exc:
                raise TryAgain(exc) from None
            try:
                checked = None if check is None else await asyncio.to_thread(check, tmp)
            except DownloadError as exc:
                tmp.unlink(missing_ok=True)
                if isinstance(exc, LimitExceeded):
                    raise
                raise TryAgain(exc) from None
            except BaseException:  # over a limit, or cancelled: leave no .part file
                tmp.unlink(missing_ok=True)
                raise
            try:
                tmp.chmod(new_file_mode())  # mkstemp's 0600 -> what the umask gives
                os.replace(tmp, dest)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DownloadError(f"could not save {dest.name} "
                                    f"({exc.strerror or exc})") from None
            return dest, checked

        def give_up(last: Exception) -> Exception:
            return DownloadError(f"could not download a result intact after {attempts} "
                                 f"tries ({self.redact(one_line(str(last), 120))})")

        async def backoff(number: int, _response: httpx.Response | None) -> None:
            await self._sleep(self.retry.backoff(number, self._rng))

        return await with_retries(attempt, attempts=attempts, wait=backoff, give_up=give_up)

    async def _stream_to_temp(self, url: str, folder: Path) -> Path:
        async with self._download_client().stream("GET", url) as response:
            if response.status_code in _EXPIRED_STATUSES:
                raise ResultExpired(
                    f"result URL answered HTTP {response.status_code} (expired?)",
                    status_code=response.status_code,
                )
            if response.status_code >= 400:
                raise APIError(
                    f"result download answered HTTP {response.status_code}",
                    status_code=response.status_code,
                )
            cap = self.limits.result_bytes
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:  # refused before any byte
                raise LimitExceeded(_too_large("a result file", int(declared), cap))
            fd, name = tempfile.mkstemp(prefix=".part-", dir=folder)
            try:
                written = 0  # bytes received: the limit is on what the service sends
                with os.fdopen(fd, "wb") as fh:
                    async for chunk in response.aiter_bytes(1 << 16):
                        written += len(chunk)
                        if written > cap:
                            raise LimitExceeded(_too_large("a result file", written, cap))
                        fh.write(chunk)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
            return Path(name)


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (parsed JSON) with ``redact`` applied to every string, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v, redact) for k, v in value.items()}
    return value


def _body_headers(request: Sendable) -> dict[str, str]:
    """The model id travels in the body (the CLI, the JS SDK) and as ``X-Model`` (the Go
    and Python SDKs since 2026-08), so a gateway of either kind finds it."""
    return {"Content-Type": "application/json", "X-Model": request.model.name}


def _pool_limits(in_flight: int) -> httpx.Limits:
    """Keep no more idle connections than requests may be in flight: httpcore checks
    every pooled connection at each request's start and end (a syscall each), so twenty
    idle ones cost more CPU than they save in handshakes."""
    return httpx.Limits(max_connections=100, max_keepalive_connections=in_flight)


async def _refuse_link_local(request: httpx.Request) -> None:
    """A result URL (or a redirect) to a link-local address, such as a cloud's metadata
    service at 169.254.169.254, is never fetched: a hostile service could read it."""
    host = request.url.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if address.is_link_local or (address.version == 6 and address.ipv4_mapped is not None
                                 and address.ipv4_mapped.is_link_local):
        raise DownloadError(f"refusing to download from the link-local address {host}")


def _too_large(what: str, size: int, cap: int) -> str:
    return (f"{what} of {size / 1e6:.1f} MB or more was refused: the limit is "
            f"{cap / 1e6:.1f} MB (Client(limits=...))")
