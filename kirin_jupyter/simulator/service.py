"""A Kirin-compatible service as one pure class: create, get, quote, render, faults.

It speaks the gateway's protocol (see ``protocol.py``) at the client's configured paths:
wrapped bodies (``{"model", "input": [{"params": {...}}]}``), statuses ``in_progress`` ->
``completed`` | ``failed`` with a ``progress`` figure, lookups by ``external_task_id``, a
precharge quote, and usage with quantity and unit price. Its checks and error codes are the
two documents'. Faults are injected per route so tests can prove what the client does when
things go wrong. It speaks the queue protocol too (``simulator/queue.py``), on the same
tasks, checks and pictures; ``dialect`` says which of the two it answers.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import io
import itertools
import json
import random
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..model import elements, spec
from ..service.model_docs import DOC_PATH, SEARCH_PATH
from ..service.protocol import (
    DEFAULT_CREATE_PATH,
    DEFAULT_QUOTE_PATH,
    DEFAULT_TASK_PATH,
    BodyStyle,
    unwrap,
)
from ..service.uploads import UPLOAD_PATH
from . import queue

IN_PROCESS_BASE_URL = "http://kirin-simulator.invalid"
DOC_PREFIX = DOC_PATH.partition("{model}")[0]  # a model's document, and the model search

Route = Literal["create", "get", "quote", "download", "stream", "doc", "upload",
                "queue_submit", "queue_status", "queue_response", "queue_cancel"]
Dialect = Literal["generation", "queue", "both"]
DIALECTS: tuple[Dialect, ...] = ("generation", "queue", "both")
FaultKind = Literal["status", "drop", "malformed", "fail_task", "truncate"]
STREAM_SUFFIX = "/stream"  # after the task path: the task as server-sent events


@dataclass
class Fault:
    """One injected misbehaviour, used ``times`` times on ``route``.

    kinds: ``status`` answers HTTP ``status`` with ``code``/``message``/``headers``;
    ``drop`` does the work, then closes the connection without answering (a stream: ends
    after two frames, without its terminal event; ``truncate`` on a stream: headers, then
    silence); ``malformed``
    answers 200 with broken JSON; ``fail_task`` (``create`` or ``queue_submit`` only) makes
    the task fail with ``code``; ``truncate`` (download only) sends half the file.
    """

    route: Route
    kind: FaultKind
    status: int = 500
    code: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass(frozen=True)
class Routes:
    """Where the simulator answers: the same paths and body style the client is set to."""

    create: str = DEFAULT_CREATE_PATH
    task: str = DEFAULT_TASK_PATH
    quote: str = DEFAULT_QUOTE_PATH
    body_style: BodyStyle = "wrapped"

    def task_ident(self, path: str) -> str | None:
        """The id in a path that matches the task template, else None."""
        prefix, _, suffix = self.task.partition("{id}")
        if not (path.startswith(prefix) and path.endswith(suffix)):
            return None
        middle = path[len(prefix):len(path) - len(suffix)]
        return unquote(middle) if middle and "/" not in middle else None


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without sending anything
    stream: Iterator[bytes] | None = None  # sent as it comes, then the connection closes

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> SimResponse:
        return cls(status, json.dumps(payload).encode(),
                   {"Content-Type": "application/json", **(headers or {})})


@dataclass
class SimTask:
    id: str
    model: str
    body: dict[str, Any]
    created: float
    duration: float
    external_id: str | None = None
    created_wall: float = 0.0  # time.time() at creation: benchmarks compare clocks with it
    fail_code: str | None = None
    fail_message: str | None = None
    rendered: dict[int, bytes] = field(default_factory=dict)
    element_id: int | None = None  # a kirin_custom_elements task: the id it makes
    cancelled: bool = False  # cancelled on the queue protocol: it ends, failed, unbilled


ELEMENT_IDS_FROM = 2**53 + 1  # element ids above what a float holds exactly
ELEMENT_PRICE = "0.10"  # invented, like the image prices


class SimulatorService:
    """The in-memory service. Thread-safe: the HTTP server calls it from many threads."""

    def __init__(
        self,
        *,
        task_seconds: float = 3.0,
        api_key: str | None = None,
        base_url: str = IN_PROCESS_BASE_URL,
        clock: Callable[[], float] = time.monotonic,
        id_factory: Callable[[], str] | None = None,
        spread: float = 0.0,
        eager_render: bool = False,
        seed: int | None = None,
        routes: Routes | None = None,
        precharge: bool = True,
        progress: bool = True,
        capacity: int | None = None,
        busy_answer: Literal["code", "429"] = "code",
        stock_images: bool = False,
        element_body: elements.BodyVersion = elements.DEFAULT_BODY_VERSION,
        stream: bool = True,
        dialect: Dialect = "both",
    ) -> None:
        """``dialect`` is the protocols it answers: ``"generation"``, ``"queue"`` or
        ``"both"`` (the default: a client set to either, or to ``auto``, finds what it asks
        for, and nothing a generation client sends changes). A queue-only simulator answers
        the generation create, task and stream paths with 404, as a gateway that moved a
        model would, so ``protocol = "auto"`` switches; its quote route stays."""
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
        self.dialect: Dialect = dialect
        self.generation_404 = 0  # generation requests refused because it speaks only the queue
        self.cancels: list[tuple[str, int]] = []  # queue cancels: (request id, HTTP answer)
        self.task_seconds = task_seconds
        self.spread = spread  # each task's duration varies by +- this fraction
        self.eager_render = eager_render  # render results while the task "runs", as a CDN would
        self._rng = random.Random(seed)
        self._new_id = id_factory or (lambda: f"sim-{uuid.uuid4().hex[:12]}")
        self.base_url = base_url
        self.routes = routes or Routes()
        self.precharge = precharge  # False: the quote route answers 404, as on some services
        self.progress = progress  # False: task answers carry no progress figure
        self.stream = stream  # False: the stream route answers 404, as a gateway without it
        self.stream_cursors: list[int] = []  # the cursor each stream request asked from
        # At most this many tasks running at once; a create past it is refused as the v3
        # page documents (HTTP 200, error 006001094) or, with busy_answer "429", as
        # HTTP 429 with a Retry-After of one second. Nothing is created either way.
        self.capacity = capacity
        self.busy_answer = busy_answer
        self.busy_refusals = 0
        self.most_running = 0  # the most tasks that ran at once
        self._ends: list[float] = []  # when each unfinished task ends (a heap)
        # One picture per model, size and ratio, served for every task: for benchmarks of
        # thousands of tasks, where drawing each one (about 50 ms) would measure the
        # simulator rather than the client.
        self.stock_images = stock_images
        # Which page version's element body it takes; the other is refused (HTTP 400).
        self.element_body = element_body
        self._elements_made = 0
        self._stock: dict[tuple[Any, ...], bytes] = {}
        self._api_key = api_key
        self._clock = clock
        self._lock = threading.Lock()
        self.tasks: dict[str, SimTask] = {}
        self._by_external: dict[str, str] = {}
        self._faults: list[Fault] = []
        self.creates_by_external_id: Counter[str] = Counter()
        self.gets_by_task: Counter[str] = Counter()
        self.callbacks_sent: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        # The storage route (service/uploads.py): files by id, and what came in.
        self.files: dict[str, bytes] = {}
        self.uploads = 0
        self.upload_bytes = 0

    def __repr__(self) -> str:
        return f"SimulatorService(task_seconds={self.task_seconds}, tasks={len(self.tasks)})"

    # -- control -------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def finish_now(self, task_id: str) -> None:
        """Let a (stuck) task complete at once: for tests of resume after a timeout."""
        with self._lock:
            self.tasks[task_id].duration = 0.0

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def knows(self, ident: str) -> bool:
        """Is there a task with this task id or external id (in this process's memory)?"""
        return self._find(ident) is not None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tasks": len(self.tasks),
                "creates_by_external_id": dict(self.creates_by_external_id),
                "requests": dict(self.requests),
                "gets_by_task": dict(self.gets_by_task),
                "completed_at": {t.id: t.created_wall + t.duration for t in self.tasks.values()},
                "busy_refusals": self.busy_refusals,
                "most_running": self.most_running,
                "uploads": self.uploads,
                "upload_bytes": self.upload_bytes,
                "dialect": self.dialect,
                "generation_404": self.generation_404,
                "cancels": [list(c) for c in self.cancels],
            }

    def forget_uploads(self) -> None:
        """Drop every uploaded file, as a storage service may after some time: a create
        naming one is then refused (HTTP 400), and nothing is created."""
        with self._lock:
            self.files.clear()

    def _take_fault(self, route: Route) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.route == route and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- HTTP face -----------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> SimResponse:
        """Answer one HTTP request (path without the host); used by both faces."""
        path, _, query = path.partition("?")
        if path.startswith("/_sim/") and not self._authorised(headers):
            return SimResponse.json(401, {"error": {"code": "unauthorized",
                                                    "message": "invalid API key"}})
        if path == "/_sim/stats" and method == "GET":
            return SimResponse.json(200, self.stats())
        if path == "/_sim/faults" and method == "POST":
            return self._control_faults(body)
        if path.startswith("/results/") and method == "GET":
            return self._download(path)
        if path.startswith("/files/") and method == "GET":
            with self._lock:
                data = self.files.get(path[len("/files/"):].rsplit(".", 1)[0])
            return SimResponse(200, data, {"Content-Type": "image/png"}) if data \
                else SimResponse(404)
        if method == "POST" and path == UPLOAD_PATH:
            return self._guarded("upload", headers, lambda: self._upload(headers, body))
        if path.startswith(queue.PREFIX):
            return self._queue(method, path, headers, body)
        routes = self.routes
        if self.dialect == "queue" and self._generation_only(method, path):
            with self._lock:  # sent, counted, and refused: nothing is created
                self.generation_404 += 1
                if method == "POST":
                    self.requests["create"] += 1
            return SimResponse.json(404, {"error": {"code": "not_found",
                                                    "message": "no such route"}})
        if method == "POST" and path == routes.create:
            return self._guarded("create", headers, lambda: self._create(body))
        if method == "POST" and path == routes.quote and self.precharge:
            return self._guarded("quote", headers, lambda: self._quote(body))
        streamed = routes.task_ident(path[:-len(STREAM_SUFFIX)]) \
            if method == "GET" and path.endswith(STREAM_SUFFIX) else None
        if streamed is not None:
            if not self.stream:  # counted, and refused as a gateway without the route
                with self._lock:
                    self.requests["stream"] += 1
                return SimResponse.json(404, {"error": {"code": "not_found",
                                                        "message": "no such route"}})
            return self._guarded("stream", headers,
                                 lambda: self._stream(streamed, _cursor(query)))

        if method == "GET" and path.startswith(DOC_PREFIX):
            return self._guarded("doc", headers, lambda: self._model_doc(path, query))
        ident = routes.task_ident(path) if method == "GET" else None
        if ident is not None:
            return self._guarded("get", headers, lambda: self._get(ident))
        return SimResponse.json(404, {"error": {"code": "not_found", "message": "no such route"}})

    def _queue(self, method: str, path: str, headers: Mapping[str, str], body: bytes
               ) -> SimResponse:
        """One call of the queue protocol (``simulator/queue.py`` shapes the answers)."""
        found = queue.route_of(method, path) if self.dialect != "generation" else None
        if found is None:
            return SimResponse.json(404, {"error": {"code": "not_found",
                                                    "message": "no such route"}})
        route, model, ident = found
        if route == "queue_submit":
            return self._guarded(route, headers, lambda: self._queue_submit(model, body))
        if route == "queue_cancel":
            return self._guarded(route, headers, lambda: self._queue_cancel(model, ident))
        return self._guarded(route, headers, lambda: self._queue_read(route, model, ident))

    def _queue_submit(self, model: str, raw: bytes) -> SimResponse:
        """The raw parameters, checked as a generation create's are, make the same task."""
        params = queue.raw_parameters(raw)
        if isinstance(params, str):
            return self._error(None, "invalid_body", params)
        body = self.checked({**params, "model": model})
        if isinstance(body, SimResponse):
            return body
        task = self.start(body)
        if isinstance(task, SimResponse):  # no room, an external id used before, ...
            return task
        return SimResponse.json(200, queue.submitted(self.base_url, model, task.id))

    def _request(self, model: str, ident: str) -> SimTask | None:
        """A queue request's task: by its id, under its own model's path."""
        with self._lock:
            task = self.tasks.get(ident)
        return task if task is not None and task.model == model else None

    def _queue_read(self, route: str, model: str, ident: str) -> SimResponse:
        """The status or the response call."""
        task = self._request(model, ident)
        if task is None:
            return self._error(None, "not_found", f"request {ident} not found", status=404)
        state, view = self._status(task), self._view(task)
        if route == "queue_status":
            with self._lock:
                self.gets_by_task[task.id] += 1
            return SimResponse.json(200, queue.status_reply(task.id, state, view))
        from .render import output_size

        size = output_size(task.body) if state == "completed" and task.model in spec.MODELS \
            else (0, 0)
        return SimResponse.json(*queue.response_reply(task.id, state, view, size))

    def _queue_cancel(self, model: str, ident: str) -> SimResponse:
        """202 for a queued or running request, which then ends as cancelled (and leaves
        the running count), and again for one already cancelled; 400 ``ALREADY_COMPLETED``
        once it has ended; 404 for an unknown id. Each answer is counted in ``cancels``."""
        task = self._request(model, ident)
        if task is None:
            with self._lock:
                self.cancels.append((ident, 404))
            return self._error(None, "not_found", f"request {ident} not found", status=404)
        state = self._status(task)
        with self._lock:
            if state in ("completed", "failed"):
                self.cancels.append((task.id, 400))
                return SimResponse.json(400, queue.ALREADY_COMPLETED)
            task.cancelled = True
            now = self._clock()
            task.duration = min(task.duration, max(0.0, now - task.created))
            self._ends = [t.created + t.duration for t in self.tasks.values()
                          if not t.cancelled and t.created + t.duration > now]
            heapq.heapify(self._ends)
            self.cancels.append((task.id, 202))
        return SimResponse.json(202, {**queue.CANCELLED, "request_id": task.id})

    def _generation_only(self, method: str, path: str) -> bool:
        """A generation create, task query or task stream (not the quote, which stays)."""
        if method == "POST":
            return path == self.routes.create
        if method != "GET":
            return False
        if path.endswith(STREAM_SUFFIX):
            path = path[:-len(STREAM_SUFFIX)]
        return self.routes.task_ident(path) is not None

    def _model_doc(self, path: str, query: str) -> SimResponse:
        """A model's document (Markdown) or the model search (JSON), from the spec table."""
        from .model_docs import document, search

        if path == SEARCH_PATH:
            words = parse_qs(query).get("q", [""])[0]
            return SimResponse.json(200, search(words))
        text = document(unquote(path[len(DOC_PREFIX):]))
        if text is None:
            return SimResponse.json(404, {"error": {"code": "not_found",
                                                    "message": "no such model"}})
        return SimResponse(200, text.encode("utf-8"),
                           {"Content-Type": "text/markdown; charset=utf-8"})

    def _control_faults(self, body: bytes) -> SimResponse:
        try:
            spec_ = json.loads(body or b"{}")
            if spec_.get("clear"):
                self.clear_faults()
            for item in spec_.get("faults", []):
                self.add_fault(Fault(**item))
        except (ValueError, TypeError) as exc:
            return SimResponse.json(400, {"error": {"code": "bad_fault", "message": str(exc)}})
        return SimResponse.json(200, {"ok": True})

    def _guarded(
        self, route: Route, headers: Mapping[str, str], work: Callable[[], SimResponse]
    ) -> SimResponse:
        with self._lock:
            self.requests[route] += 1
        if not self._authorised(headers):
            return SimResponse.json(
                401, {"error": {"code": "unauthorized", "message": "invalid API key"}}
            )
        fault = self._take_fault(route)
        if fault is None or fault.kind == "fail_task":
            response = work()
            if fault is not None:  # fail_task: the task exists, and will fail
                self._mark_failing(response, fault)
            return response
        if fault.kind == "status":
            payload: dict[str, Any] = {"error": {"code": fault.code or str(fault.status),
                                                 "message": fault.message or "injected fault"}}
            return SimResponse.json(fault.status, payload, fault.headers)
        if fault.kind in ("drop", "truncate") and route == "stream":
            answer = work()
            if answer.stream is not None and fault.kind == "drop":
                answer.stream = itertools.islice(answer.stream, 2)  # then the connection ends
            elif answer.stream is not None:  # headers, then nothing at all
                answer.stream = _silent(30.0)
            return answer
        if fault.kind == "drop":
            work()  # the request took effect; only the answer is lost
            return SimResponse(0, drop=True)
        if fault.kind == "malformed":
            work()
            return SimResponse(200, b'{"id": "trunc', {"Content-Type": "application/json"})
        return work()

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        """With a key set (``--require-key``), every route but result downloads needs it,
        the control routes (``/_sim/*``) too."""
        if self._api_key is None:
            return True
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        return auth == f"Bearer {self._api_key}"

    def _mark_failing(self, response: SimResponse, fault: Fault) -> None:
        try:
            answer = json.loads(response.body)
            task_id = answer.get("id") or answer["request_id"]  # generation, or queue
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        with self._lock:
            task = self.tasks[task_id]
            task.fail_code = fault.code or "002016095"
            task.fail_message = fault.message or spec.all_errors().get(task.fail_code, "failed")

    # -- the API -------------------------------------------------------------------------

    def _error(self, model: str | None, code: str, message: str, status: int = 400) -> SimResponse:
        key = spec.MODELS[model].error_message_key if model in spec.MODELS else "message"
        return SimResponse.json(status, {"error": {"code": code, key: message}})

    def _read_body(self, raw: bytes) -> dict[str, Any] | SimResponse:
        """The flat parameters of a create or quote body, or the error answer."""
        try:
            body = json.loads(raw or b"")
        except ValueError:
            return self._error(None, "invalid_json", "request body is not JSON")
        if self.routes.body_style == "wrapped":
            flat = unwrap(body)
            if flat is None:
                return self._error(None, "invalid_body", 'the body must be {"model": ..., '
                                   '"input": [{"params": {...}}]}')
            body = flat
        if not isinstance(body, dict):
            return self._error(None, "invalid_json", "request body must be a JSON object")
        return self.checked(body)

    def checked(self, body: dict[str, Any]) -> dict[str, Any] | SimResponse:
        """The flat parameters with their ``model``, checked as the pages say (both
        protocols), or the error answer."""
        model = body.get("model")
        if model == elements.MODEL:
            problem = validate_element_body(body, self.element_body)
            if problem is not None:
                return self._error(None, *problem)
            return body
        if model not in spec.MODELS:
            return self._error(None, "invalid_model", f"unknown model {model!r}")
        problem = validate_body(body)
        if problem is not None:
            code, message = problem
            return self._error(model, code, message)
        return body

    def _quote(self, raw: bytes) -> SimResponse:
        body = self._read_body(raw)
        if isinstance(body, SimResponse):
            return body
        if body["model"] == elements.MODEL:
            return SimResponse.json(200, {"status": "success", "data": {
                "model": elements.MODEL, "cost": ELEMENT_PRICE, "currency": "USD"}})
        n = spec.MODELS[body["model"]].images_for(body)
        return SimResponse.json(200, {"status": "success", "data": {
            "billing_model": body["model"], "model": body["model"],
            "cost": f"{_price_per_image(body) * n:.2f}", "currency": "USD", "discount": 0,
            "sample_count": n,
        }})

    def _upload(self, headers: Mapping[str, str], raw: bytes) -> SimResponse:
        """The storage route: one multipart ``file`` field, answered ``{"data": {"url"}}``
        with a signed-looking URL (its query must never reach a record)."""
        data = _multipart_file(headers, raw)
        if data is None:
            return SimResponse.json(400, {"code": 400, "message": "a multipart file is needed"})
        if len(data) > spec.IMAGE_MAX_BYTES:
            return SimResponse.json(413, {"code": 413, "message": "file too large"})
        import hashlib

        ident = hashlib.sha256(data).hexdigest()[:24]
        with self._lock:
            self.files[ident] = data
            self.uploads += 1
            self.upload_bytes += len(data)
        return SimResponse.json(200, {"code": 0, "data": {
            "url": f"{self.base_url}/files/{ident}.png?token=sim-{uuid.uuid4().hex}"}})

    def _own_files(self, body: dict[str, Any]) -> SimResponse | None:
        """Images that are this simulator's uploaded files, swapped for their bytes (so the
        render shows them); one it no longer keeps refuses the create (HTTP 400)."""
        prefix = f"{self.base_url}/files/"
        for holder, key in [(item, "image") for item in body.get("image_list") or []
                            if isinstance(item, dict)] + [(body, "image")]:
            value = holder.get(key)
            if not (isinstance(value, str) and value.startswith(prefix)):
                continue
            ident = value[len(prefix):].split("?", 1)[0].rsplit(".", 1)[0]
            with self._lock:
                data = self.files.get(ident)
            if data is None:
                return self._error(str(body.get("model")), "invalid_image",
                                   "image URL cannot be fetched")
            holder[key] = base64.b64encode(data).decode("ascii")
        return None

    def _create(self, raw: bytes) -> SimResponse:
        body = self._read_body(raw)
        if isinstance(body, SimResponse):
            return body
        task = self.start(body)
        if isinstance(task, SimResponse):
            return task
        return SimResponse.json(200, {"id": task.id, "status": "in_progress", "model": task.model,
                                      "created_at": int(task.created_wall)})

    def start(self, body: dict[str, Any]) -> SimTask | SimResponse:
        """A new task for checked parameters (both protocols), or the answer refusing it
        (a forgotten upload, no room, an external id used before)."""
        refused = self._own_files(body)
        if refused is not None:
            return refused
        model = str(body["model"])
        external_id = body.get("external_task_id")
        with self._lock:
            running = self._running_now()
            if self.capacity is not None and running >= self.capacity:
                self.busy_refusals += 1
                if self.busy_answer == "429":
                    return SimResponse.json(429, {"error": {
                        "code": "429", "message": "too many concurrent tasks"}},
                        {"Retry-After": "1"})
                return SimResponse.json(200, {"status": "error", "error": {
                    "code": "006001094", "message": "Task resource insufficient"}})
            self.most_running = max(self.most_running, running + 1)
            if external_id and external_id in self._by_external:
                return self._error(model, "duplicate_external_task_id",
                                   "external_task_id already used", status=409)
            task_id = self._new_id()
            count = max(1, _images_of(model, body))
            duration = self.task_seconds * (1 + 0.1 * (count - 1))
            duration *= 1 + self._rng.uniform(-self.spread, self.spread)
            task = SimTask(task_id, model, body, self._clock(), duration, external_id,
                           created_wall=time.time())
            if model == elements.MODEL:
                task.element_id = ELEMENT_IDS_FROM + self._elements_made
                self._elements_made += 1
            self.tasks[task_id] = task
            heapq.heappush(self._ends, task.created + task.duration)
            if external_id:
                self._by_external[external_id] = task_id
                self.creates_by_external_id[external_id] += 1
        if self.eager_render and task.element_id is None:
            threading.Thread(target=self._render_all, args=(task,), daemon=True).start()
        callback = body.get("callback_url")
        if isinstance(callback, str) and _is_loopback(callback):
            timer = threading.Timer(task.duration + 0.01, self._notify, (task, callback))
            timer.daemon = True
            timer.start()
        return task

    def _running_now(self) -> int:
        """Tasks not yet finished (under the lock): a heap of their end times."""
        now = self._clock()
        while self._ends and self._ends[0] <= now:
            heapq.heappop(self._ends)
        return len(self._ends)

    def _notify(self, task: SimTask, url: str) -> None:
        """POST the final task view to its callback URL, as the service does (loopback only)."""
        payload = json.dumps(self._view(task)).encode()
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError:
            pass  # a callback is a courtesy: the client polls anyway
        with self._lock:
            self.callbacks_sent[task.id] = url

    def _render_all(self, task: SimTask) -> None:
        from .render import render_result

        for index in range(_images_of(task.model, task.body)):
            task.rendered.setdefault(index, render_result(task.body, index, task.id))

    def _find(self, ident: str) -> SimTask | None:
        with self._lock:
            task = self.tasks.get(ident)
            if task is None and ident in self._by_external:
                task = self.tasks[self._by_external[ident]]
            return task

    def _get(self, ident: str) -> SimResponse:
        task = self._find(ident)
        if task is None:
            return self._error(None, "not_found", f"task {ident} not found", status=404)
        with self._lock:
            self.gets_by_task[task.id] += 1
        return SimResponse.json(200, self._view(task))

    def _stream(self, ident: str, cursor: int) -> SimResponse:
        """The task as server-sent events (``stream.frames``), from ``cursor`` on."""
        from .stream import frames

        with self._lock:
            self.stream_cursors.append(cursor)
        task = self._find(ident)
        if task is None:
            return self._error(None, "not_found", f"task {ident} not found", status=404)

        def finish_in() -> float:
            return task.created + task.duration - self._clock()

        return SimResponse(200, headers={"Content-Type": "text/event-stream",
                                         "Cache-Control": "no-cache"},
                           stream=frames(lambda: self._view(task), finish_in, cursor=cursor))

    def _status(self, task: SimTask) -> str:
        if task.cancelled:
            return "cancelled"
        age = self._clock() - task.created
        if age < task.duration * 0.15:
            return "queued"
        if age < task.duration:
            return "running"
        return "failed" if task.fail_code else "completed"

    def _view(self, task: SimTask) -> dict[str, Any]:
        """A task answer as the gateway gives it: ``in_progress`` (with ``progress`` once
        above 0), ``completed`` or ``failed``."""
        status = self._status(task)
        view: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "status": "in_progress" if status in ("queued", "running") else
            "failed" if status == "cancelled" else status,
            "created_at": int(task.created_wall),
            "metadata": {"simulated": True},
        }
        done = (self._clock() - task.created) / task.duration if task.duration else 1.0
        if self.progress and status == "running" and round(done, 2) > 0:
            view["progress"] = min(0.99, round(done, 2))
        if status == "failed":
            key = spec.MODELS[task.model].error_message_key if task.model in spec.MODELS \
                else "message"
            view["error"] = {"code": task.fail_code, key: task.fail_message}
        if status == "cancelled":
            view["error"] = {"code": "cancelled", "message": "cancelled by the user"}
        if status == "completed" and task.element_id is not None:
            # Where upstream Kling names it; the gateway's own place is not documented.
            view["task_result"] = {"elements": [{"element_id": task.element_id}]}
            view["usage"] = {"cost": ELEMENT_PRICE, "quantity": 1,
                             "unit_price": ELEMENT_PRICE, "discount": 0}
        elif status == "completed":
            n = spec.MODELS[task.model].images_for(task.body)
            view["output"] = [{"content": [
                {"type": "image",
                 "url": f"{self.base_url}/results/{quote(task.id, safe='')}/{i + 1}.png",
                 "jobId": f"{task.id}-{i + 1}"}
                for i in range(n)
            ]}]
            per_image = _price_per_image(task.body)
            view["usage"] = {"cost": f"{per_image * n:.2f}", "quantity": n,
                             "unit_price": f"{per_image:.2f}", "discount": 0}
        return view

    def _download(self, path: str) -> SimResponse:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or not parts[2].endswith(".png"):
            return SimResponse(404)
        task = self._find(unquote(parts[1]))
        try:
            index = int(parts[2][:-4]) - 1
        except ValueError:
            return SimResponse(404)
        if task is None or task.element_id is not None or \
                self._status(task) != "completed" or not 0 <= index < \
                spec.MODELS[task.model].images_for(task.body):
            return SimResponse(404)
        with self._lock:
            self.requests["download"] += 1
        fault = self._take_fault("download")
        if fault is not None and fault.kind == "status":
            return SimResponse(fault.status, b"", dict(fault.headers))
        if fault is not None and fault.kind == "drop":
            return SimResponse(0, drop=True)
        data = task.rendered.get(index)
        if data is None and self.stock_images:
            kind = (task.model, task.body.get("resolution"), task.body.get("aspect_ratio"))
            data = self._stock.get(kind)
            if data is None:
                from .render import render_result

                data = self._stock[kind] = render_result(task.body, 0, "stock")
        if data is None:
            from .render import render_result

            data = render_result(task.body, index, task.id)
            task.rendered[index] = data
        if fault is not None and fault.kind == "truncate":
            data = data[: len(data) // 2]
        return SimResponse(200, data, {"Content-Type": "image/png"})


def _multipart_file(headers: Mapping[str, str], raw: bytes) -> bytes | None:
    """The bytes of the ``file`` field of a multipart/form-data body, or None."""
    from email.parser import BytesParser
    from email.policy import HTTP

    kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            return data if isinstance(data, bytes) and data else None
    return None


def _price_per_image(body: Mapping[str, Any]) -> float:
    """Invented prices (USD): the documents publish none."""
    return 0.08 if body.get("resolution") == "2k" else 0.04


def _is_loopback(url: str) -> bool:
    """The simulator calls back only this machine: it must never reach out to a network."""
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def _silent(seconds: float) -> Iterator[bytes]:
    """A stream that sends nothing after its headers (for a while, then ends)."""
    time.sleep(seconds)
    yield from ()


def _cursor(query: str) -> int:
    """``cursor=N`` of a stream's query (0 when absent or not a whole number)."""
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "cursor" and value.isdigit():
            return int(value)
    return 0


def _images_of(model: str, body: Mapping[str, Any]) -> int:
    """How many pictures a task makes (none for an element, whose result is its id)."""
    return spec.MODELS[model].images_for(body) if model in spec.MODELS else 0


def validate_body(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """The service-side checks, on the wire format; (code, message) of the first break."""
    model = spec.MODELS[str(body["model"])]
    create_error = model.create_error or "task_creation_error"
    missing, too_long, bad_n = model.prompt_errors or (create_error,) * 3
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return missing, "Prompt missing"
    if len(prompt) > spec.PROMPT_MAX_CHARS:
        return too_long, "Prompt exceeds 2500 character limit"
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
        return bad_n, "Generation image quantity n must be between 1-9"
    problem = _check_model_fields(model, body)
    if problem:
        return create_error, problem
    images = body.get(model.image_field)
    if model.image_field == "image" and images is not None:
        images = [images]
    elif images is not None:  # image_list: [{"image": value}, ...], as the gateway takes it
        if not isinstance(images, list) or not all(
                isinstance(item, dict) and set(item) == {"image"} for item in images):
            return create_error, 'image_list items must be {"image": URL or base64}'
        images = [item["image"] for item in images]
    for image in images or []:
        problem = _check_wire_image(image)
        if problem:
            return create_error, problem
    negative = body.get("negative_prompt")
    if negative is not None and (
        not model.supports_negative_prompt or images
        or len(str(negative)) > spec.PROMPT_MAX_CHARS
    ):
        return create_error, "negative_prompt not allowed here"
    # A field the pages do not list (the spec's hinted_params, omni's element_list too) is taken
    # as any JSON, as the gateway's type for it is not known; other unknown keys are let be.
    elements = (body.get("element_list") or []) if model.supports_elements else []
    if elements and not (isinstance(elements, list) and all(
        isinstance(e, dict) and isinstance(e.get("element_id"), int) for e in elements
    )):
        return create_error, "invalid element_list"
    if len(images or []) + len(elements) > spec.MAX_REFERENCES:
        return create_error, "too many reference images and elements"
    return None


def _check_model_fields(model: spec.ModelSpec, body: Mapping[str, Any]) -> str | None:
    """Resolution, aspect ratio, watermark and series, as this model's entry allows."""
    if "resolution" in body and not model.resolutions:
        return f"{model.name} takes no resolution"
    if model.resolutions and body.get("resolution", model.resolutions[0]) not in \
            model.resolutions:
        return "invalid resolution"
    if body.get("aspect_ratio", model.default_aspect_ratio) not in model.aspect_ratios:
        return "invalid aspect_ratio"
    if "watermark_info" in body and not model.supports_watermark:
        return f"{model.name} takes no watermark_info"
    kind = body.get("result_type")
    if model.series_amounts is None:
        if "series_amount" in body:
            return f"{model.name} makes no series"
        return None
    if kind not in (None, "single", "series"):
        return "result_type must be single or series"
    amount = body.get("series_amount")
    least, most = model.series_amounts
    if kind == "series" and (isinstance(amount, bool) or not isinstance(amount, int)
                             or not least <= amount <= most):
        return f"series_amount must be a whole number from {least} to {most}"
    return None


_ELEMENT_FIELDS = {
    "docs": ("reference_type", "element_image_list", "element_video_list"),
    "domestic": ("element_frontal_image", "element_refer_list"),
}


def validate_element_body(body: Mapping[str, Any], version: str) -> tuple[str, str] | None:
    """The element page's checks, for the page version ``version``; the other version's
    fields are refused (``/domestic/`` says ``reference_type`` and ``element_image_list``
    are not supported)."""
    other = "domestic" if version == "docs" else "docs"
    foreign = [key for key in _ELEMENT_FIELDS[other] if key in body]
    if foreign:
        return "invalid_params", f"not supported: {', '.join(foreign)}"
    name, about = body.get("element_name"), body.get("element_description", "")
    if not isinstance(name, str) or not name.strip() or len(name) > elements.NAME_MAX_CHARS:
        return "invalid_params", "element_name must be 1-20 characters"
    if not isinstance(about, str) or len(about) > elements.DESCRIPTION_MAX_CHARS:
        return "invalid_params", "element_description must be at most 100 characters"
    if version == "docs":
        images = body.get("element_image_list")
        if body.get("reference_type") != "image_refer" or not isinstance(images, list) \
                or len(images) != 1 or not isinstance(images[0], dict):
            return "invalid_params", ("reference_type image_refer needs element_image_list "
                                      "[{frontal_image, refer_images}]")
        frontal, refers = images[0].get("frontal_image"), images[0].get("refer_images")
    else:
        frontal, refers = body.get("element_frontal_image"), body.get("element_refer_list")
    if not isinstance(refers, list) or not 1 <= len(refers) <= 3 or not all(
            isinstance(r, dict) and set(r) == {"image_url"} for r in refers):
        return "invalid_params", "1-3 refer images as {image_url} are required"
    urls = [r["image_url"] for r in refers]
    if frontal in urls:
        return "invalid_params", "refer images must differ from the frontal image"
    for image in [frontal, *urls]:
        problem = _check_wire_image(image)
        if problem:
            return "invalid_params", problem
    tags = body.get("tag_list", [])
    if not isinstance(tags, list) or not all(
            isinstance(t, dict) and t.get("tag_id") in elements.TAGS for t in tags):
        return "invalid_params", "tag_list items must be {tag_id: o_101..o_108}"
    return None


def _check_wire_image(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "image value must not be empty"
    if value.startswith(("http://", "https://")):
        return None
    if value.startswith("data:"):
        return "base64 image must not carry a data: prefix"
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "image is neither a URL nor valid base64"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, width, height = img.format, img.width, img.height
    except Exception:
        return "image data is not a readable image"
    if fmt not in spec.IMAGE_FORMATS:
        return "image format must be jpg, jpeg or png"
    if len(data) > spec.IMAGE_MAX_BYTES:
        return "image exceeds 10MB"
    if min(width, height) < spec.IMAGE_MIN_SIDE:
        return "image sides must be at least 300px"
    if not spec.IMAGE_MIN_RATIO <= width / height <= spec.IMAGE_MAX_RATIO:
        return "image aspect ratio must be between 1:2.5 and 2.5:1"
    return None
