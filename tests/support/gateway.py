"""A strict fake of the real gateway, over loopback HTTP: the contract tests' server.

Written apart from the package's simulator, from the public clients of the SeaCloud/SeaArt
gateway (seacloud-cli ``internal/generation/client.go``, sea_sdk_js ``src/modal.js``), so
that a mistake shared by the client and the simulator cannot pass unseen. It answers only
the gateway's routes at their real paths and rejects (HTTP 400, and a note in
``rejections``) any request not in the protocol's shape:

- ``POST /model/v1/generation``: ``{"model", "input": [{"params": {...}}]}``, nothing else,
  only documented parameters of that model, each of the documented type;
- ``GET /model/v1/generation/task/{id}``, by task id or external id;
- ``POST /model/v1/generation/precharge``: the same body; or 404/405 where a test says
  the route is missing.
- ``GET /model/v1/models/skill/{model}``: a model's parameter document as Markdown
  (``model_docs``, hand-written here in the documentation site's shape), 404 for others;
  ``GET /model/v1/models/skill/search?q=...``: ``{"hits": [...]}`` (sea_sdk_js
  ``src/modal.js``). Both need the key, like every route but the CDN.

Each task answers from a script of ``in_progress`` steps, then its final answer.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

PREFIX = "/model/v1/generation"
_COMMON = {"prompt", "resolution", "n", "aspect_ratio", "watermark_info", "callback_url",
           "external_task_id"}
DOCUMENTED_PARAMS = {
    "kirin_image_omni": _COMMON | {"image_list"},
    "kirin_v3_image": _COMMON | {"negative_prompt", "image", "element_list"},
}
# Fields the SeaCloud CLI's skills name beside the pages (types unknown): a client may send
# them only through its escape hatch (extra_params / --param), never on its own.
HINTED_PARAMS = {
    "kirin_image_omni": {"element_list", "result_type"},
    "kirin_v3_image": {"image_reference", "image_fidelity", "human_fidelity"},
}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "prompt": str, "negative_prompt": str, "resolution": str, "n": int, "aspect_ratio": str,
    "watermark_info": dict, "callback_url": str, "external_task_id": str, "image_list": list,
    "image": str, "element_list": list,
}

Answer = dict[str, Any]

SKILL = "/model/v1/models/skill/"
# A model's document as the gateway might serve it: the v3 page's own shape (one line per
# parameter, "name type [required]", a JSON example of nested fields), trimmed, with one
# field the CLI's skill names beside the page; omni's as a Markdown table.
V3_DOC = """Kirin V3 Image

kirin_v3_image

Authentication

authorization string required

Parameters

model string required

Value: kirin_v3_image

prompt string required

Max 2500 characters

negative_prompt string

image string

Supports Base64 encoded image or image URL (ensure accessibility)

Example:

element_list array

"element_list": [
  {
    "element_id": long
  }
]

element_id integer

resolution string

n integer

aspect_ratio string

image_fidelity number

How closely the result follows the reference image

watermark_info array

"watermark_info": {
  "enabled": boolean
}

enabled boolean

callback_url string

external_task_id string

Polling

Response Format

error object

code string

output array
"""
OMNI_DOC = """# Kirin Image Omni

## Parameters

| Parameter | Type | Required | Description |
|---|---|---|---|
| `model` | string | yes | `kirin_image_omni` |
| `prompt` | string | yes | at most 2500 characters; `<<<image_N>>>` names an image |
| `image_list` | array | no | `[{"image": URL or base64}]` |
| `image_list[].image` | string | yes | one reference image |
| `resolution` | string | no | 1k, 2k |
| `n` | integer | no | 1-9 |
| `aspect_ratio` | string | no | default auto |
| `watermark_info` | object | no | `{"enabled": boolean}` |
| `callback_url` | string | no | |
| `external_task_id` | string | no | |

## Error Codes

| Error Code | Description |
|---|---|
| 002016001 | Prompt missing |
"""


def contract_problem(body: Any, header_model: str | None = None,
                     header_only: bool = False) -> str | None:
    """Why a create or precharge body breaks the protocol, or None.

    The model id may come in the body (the CLI, the JS SDK), as an ``X-Model`` header (the
    Go and Python SDKs since 2026-08), or both; when both, they must agree. A gateway of
    the older kind (``header_only`` False) needs it in the body."""
    if not isinstance(body, dict):
        return "top level must be exactly {model, input}"
    if header_only and "model" not in body and header_model is not None:
        body = {"model": header_model, **body}
    if set(body) != {"model", "input"}:
        return "top level must be exactly {model, input}"
    model = body["model"]
    if header_model is not None and header_model != model:
        return f"X-Model {header_model!r} disagrees with the body's model {model!r}"
    if model not in DOCUMENTED_PARAMS:
        return f"unknown model {model!r}"
    blocks = body["input"]
    if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], dict) \
            or set(blocks[0]) != {"params"} or not isinstance(blocks[0]["params"], dict):
        return "input must be [{params: {...}}]"
    params = blocks[0]["params"]
    unknown = set(params) - DOCUMENTED_PARAMS[model] - HINTED_PARAMS[model]
    if unknown:
        return f"parameters not documented for {model}: {sorted(unknown)}"
    for name, value in params.items():
        if name in HINTED_PARAMS[model]:
            continue  # any JSON: its type is not known
        kind = _TYPES[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{name} has the wrong type"
    if not params.get("prompt", "").strip():
        return "prompt missing"
    watermark = params.get("watermark_info")
    if watermark is not None and (set(watermark) != {"enabled"}
                                  or not isinstance(watermark["enabled"], bool)):
        return "watermark_info must be {enabled: bool}"
    for item in params.get("image_list", []):
        if not isinstance(item, dict) or set(item) != {"image"} \
                or not isinstance(item["image"], str) or not item["image"]:
            return 'image_list items must be {"image": URL or base64}'
    for element in params.get("element_list", []) if model == "kirin_v3_image" else []:
        if not isinstance(element, dict) or set(element) != {"element_id"} \
                or not isinstance(element["element_id"], int):
            return "element_list items must be {element_id: int}"
    return None


@dataclass
class Task:
    id: str
    model: str
    params: dict[str, Any]
    steps: list[Answer]
    final: Answer
    gets: int = 0
    released: bool = False


def completed(task: Task, usage: Answer | None = None) -> Answer:
    """The gateway's completed answer: one image per ``n``, with usage."""
    n = int(task.params.get("n", 1))
    return {
        "status": "completed", "progress": 1,
        "output": [{"content": [{"type": "image", "url": f"{{cdn}}/{task.id}/{i}.png",
                                 "jobId": f"{task.id}-{i}"} for i in range(n)]}],
        "usage": usage if usage is not None else
        {"cost": f"{0.14 * n:.2f}", "quantity": n, "unit_price": "0.14", "discount": 0},
        "metadata": {"completed_at": 1763700000.0},
    }


@dataclass
class Gateway:
    """The server's state and behaviour; tests read and steer it between requests."""

    key: str
    precharge: int | str = "ok"  # "ok", or the HTTP status of a missing route (404, 405)
    quote_cost: str = "0.28"
    quote_currency: str = "USD"  # the SDKs' READMEs show precharge answers in "credit"
    steps: list[Answer] = field(default_factory=lambda: [
        {"status": "in_progress"}, {"status": "in_progress", "progress": 0.5}])
    final: Callable[[Task], Answer] = completed
    auto_complete: bool = True  # False: tasks hold at their last step until released
    header_only_model: bool = False  # True: a body without "model" is fine with X-Model
    lookup_by_external: bool = True  # False: GET by external id is 404, as it may be
    # (status, answer) given to the next creates instead of creating a task: a refused
    # submit (200 with an error and no id), a 403 about the balance, ...
    create_replies: list[tuple[int, Answer]] = field(default_factory=list)
    lose_create_answers: int = 0  # creates that make their task, then hang up unanswered
    model_headers: list[str | None] = field(default_factory=list)  # X-Model of each POST
    tasks: dict[str, Task] = field(default_factory=dict)
    by_external: dict[str, str] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    cdn_auth_headers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""  # set by the server: result URLs point at its /cdn/
    # path -> a function that answers the raw request itself (tests/integration/service/test_hostile_service.py)
    hostile: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    # model -> its Markdown document (GET /model/v1/models/skill/{model})
    model_docs: dict[str, str] = field(default_factory=lambda: {
        "kirin_v3_image": V3_DOC, "kirin_image_omni": OMNI_DOC})

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p == path)

    @property
    def creates(self) -> int:
        return self.count("POST", PREFIX)

    @property
    def quotes(self) -> int:
        return self.count("POST", PREFIX + "/precharge")

    def release(self) -> None:
        """Let every held task reach its final answer."""
        with self.lock:
            for task in self.tasks.values():
                task.released = True

    # -- routes --------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes
               ) -> tuple[int, bytes, str]:
        with self.lock:
            self.requests.append((method, path.split("?")[0]))
        if path.startswith("/cdn/") and method == "GET":
            if "authorization" in {k.lower() for k in headers}:
                self.cdn_auth_headers.append(path)
            return 200, _png(), "image/png"
        if headers.get("Authorization") != f"Bearer {self.key}":
            return _json(401, {"error": {"code": 401, "error_message": "invalid api key"}})
        if method == "POST" and path in (PREFIX, PREFIX + "/precharge"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            problem = contract_problem(body, headers.get("X-Model"), self.header_only_model)
            with self.lock:
                self.model_headers.append(headers.get("X-Model"))
            if "json" not in headers.get("Content-Type", ""):
                problem = "Content-Type must be application/json"
            if problem:
                self.rejections.append(f"{method} {path}: {problem}")
                return _json(400, {"error": {"code": 400, "error_message": problem}})
            body.setdefault("model", headers.get("X-Model"))
            return self._quote(body) if path.endswith("/precharge") else self._create(body)
        if method == "GET" and path.startswith(PREFIX + "/task/"):
            return self._task(unquote(path[len(PREFIX + "/task/"):]))
        if method == "GET" and path.startswith(SKILL):
            return self._skill(path)
        self.rejections.append(f"unexpected request {method} {path}")
        return _json(404, {"message": "Not Found"})

    def _create(self, body: Answer) -> tuple[int, bytes, str]:
        params = body["input"][0]["params"]
        with self.lock:
            if self.create_replies:
                status, reply = self.create_replies.pop(0)
                return _json(status, reply)
            external = params.get("external_task_id")
            if external in self.by_external:
                return _json(400, {"error": {"code": 400,
                                             "error_message": "external_task_id exists"}})
            task = Task(f"gw-{len(self.tasks) + 1:04d}", body["model"], params,
                        list(self.steps), {})
            task.final = self.final(task)
            self.tasks[task.id] = task
            if external:
                self.by_external[external] = task.id
        with self.lock:
            if self.lose_create_answers > 0:
                self.lose_create_answers -= 1
                return HANG_UP, b"", ""
        return _json(200, {"id": task.id, "status": "in_progress", "model": task.model})

    def _skill(self, path: str) -> tuple[int, bytes, str]:
        """A model's document (Markdown) or the model search (JSON, ``q`` required)."""
        route, _, query = path[len(SKILL):].partition("?")
        if route == "search":
            words = parse_qs(query).get("q")
            if not words:
                self.rejections.append(f"GET {path}: a search without q")
                return _json(400, {"error": {"code": 400, "error_message": "q is required"}})
            hits = [{"id": model, "name": model.replace("_", " ").title(),
                     "provider": "kirin", "input": "text,image", "output": "image",
                     "media_type": "image", "tags": ["image"]}
                    for model in self.model_docs if words[0].lower() in model]
            return _json(200, {"hits": hits, "total": len(hits)})
        doc = self.model_docs.get(unquote(route))
        if doc is None:
            return _json(404, {"error": {"code": 404, "error_message": "model not found"}})
        return 200, doc.encode(), "text/markdown; charset=utf-8"

    def _quote(self, body: Answer) -> tuple[int, bytes, str]:
        if self.precharge != "ok":
            return _json(int(self.precharge), {"message": "Not Found"})
        return _json(200, {"status": "success", "data": {
            "billing_model": body["model"], "cost": self.quote_cost,
            "currency": self.quote_currency,
            "discount": 0.7, "model": body["model"], "sample_count": 1}})

    def _task(self, ident: str) -> tuple[int, bytes, str]:
        with self.lock:
            task = self.tasks.get(ident)
            if task is None and self.lookup_by_external:
                task = self.tasks.get(self.by_external.get(ident, ""))
            if task is None:
                return _json(404, {"error": {"code": 404, "error_message": "task not found"}})
            if task.gets < len(task.steps):
                step = task.steps[task.gets]
            elif self.auto_complete or task.released:
                step = task.final
            else:
                step = task.steps[-1]
            task.gets += 1
        status, body, kind = _json(200, {"id": task.id, "model": task.model,
                                         "created_at": 1763700000, **step})
        return status, body.replace(b"{cdn}", f"{self.url}/cdn".encode()), kind


HANG_UP = 0  # "status" of an answer never sent: the connection closes before a status line


def _json(status: int, payload: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(payload).encode(), "application/json"


_PNG: bytes | None = None


def _png() -> bytes:
    global _PNG
    if _PNG is None:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, format="PNG")
        _PNG = buffer.getvalue()
    return _PNG


class _Handler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        hostile = self.server.gateway.hostile.get(self.path.split("?")[0])
        if hostile is not None:  # a test's own misbehaviour for this path
            hostile(self)
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body, kind = self.server.gateway.answer(
            self.command, self.path, dict(self.headers), raw)
        if status == HANG_UP:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


class GatewayServer(ThreadingHTTPServer):
    """``with GatewayServer(Gateway(key)) as server: server.url``; 127.0.0.1 only."""

    daemon_threads = True

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gateway = gateway
        self.url = gateway.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (as the limits make it) is no error here."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)

    def __enter__(self) -> GatewayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
