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
- ``POST /api/v1/storage/files``: the storage route the SeaCloud CLI uploads a local file
  to (seacloud-cli ``internal/localfiles/upload.go``): multipart/form-data with one
  ``file`` field, the key as Bearer; answers ``{"data": {"url"}}`` (or ``{"url"}``) with a
  signed-looking URL, counts uploads and the bytes received, and can be made to fail or
  to forget its files (a create naming a forgotten one is then refused with a 400).

Each task answers from a script of ``in_progress`` steps, then its final answer.

It speaks the queue protocol too (``dialect``: "generation", "queue" or "both"), from
seacloud-cli's ``internal/queue/client.go`` and SeaCloud's multimodal documentation:

- ``POST /model/v1/queue/{model}``: the raw parameters, no ``model`` and no ``input`` (the
  same parameter rules); answers ``request_id``, ``status_url``, ``response_url``,
  ``cancel_url``, ``queue_position``;
- ``GET …/requests/{id}/status``: ``IN_QUEUE``, ``IN_PROGRESS``, ``COMPLETED`` (with
  ``error`` and ``error_type`` on a failure), from the same script of steps;
- ``GET …/requests/{id}/response``: ``{request_id, outputs: [...], metadata}`` (the usage
  inside ``metadata``; no page says where the cost is);
- ``PUT …/requests/{id}/cancel``: 202 ``CANCELLATION_REQUESTED``, 400 ``ALREADY_COMPLETED``
  or 404, each counted in ``cancels``.

A dialect the server does not speak answers its create path with 404 (``generation_404``
counts them), as a gateway that moved a model would.

Element creation (``kirin_custom_elements``) takes the body of one page version
(``element_body``: "docs" or "domestic") and refuses the other with a 400 error body; its
finished answer names the new id where ``element_id_at`` says (no page says where).
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
STORAGE = "/api/v1/storage/files"
QUEUE = "/model/v1/queue/"
_COMMON = {"prompt", "resolution", "n", "aspect_ratio", "watermark_info", "callback_url",
           "external_task_id"}
DOCUMENTED_PARAMS = {
    "kirin_image_omni": _COMMON | {"image_list"},
    "kirin_v3_image": _COMMON | {"negative_prompt", "image", "element_list"},
    # gateway-facts.md "Sibling models": the readable part of its page; aspect_ratio and
    # watermark_info as for kirin_image_omni (not on that part of the page).
    "kirin_v3_omni_image": _COMMON | {"image_list", "element_list", "result_type",
                                      "series_amount"},
    "kirin_v2_image": {"prompt", "image", "negative_prompt", "n", "aspect_ratio",
                       "callback_url", "external_task_id"},
}
RESOLUTIONS = {"kirin_image_omni": {"1k", "2k"}, "kirin_v3_image": {"1k", "2k"},
               "kirin_v3_omni_image": {"1k", "2k", "4k"}}
# Fields the SeaCloud CLI's skills name beside the pages (types unknown): a client may send
# them only through its escape hatch (extra_params / --param), never on its own.
HINTED_PARAMS = {
    "kirin_image_omni": {"element_list", "result_type"},
    "kirin_v3_image": {"image_reference", "image_fidelity", "human_fidelity"},
    "kirin_v3_omni_image": set(),
    "kirin_v2_image": set(),
}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "prompt": str, "negative_prompt": str, "resolution": str, "n": int, "aspect_ratio": str,
    "watermark_info": dict, "callback_url": str, "external_task_id": str, "image_list": list,
    "image": str, "element_list": list, "result_type": str, "series_amount": int,
}


def _documented(model: str) -> tuple[set[str], set[str], set[str]] | None:
    """(documented, hinted, resolutions) of a model: this fake's own tables for the models
    the gateway serves; a model only the package's table knows (a test's made-up one) is
    taken as that table describes it, so adding a model there reaches this fake too."""
    if model in DOCUMENTED_PARAMS:
        return DOCUMENTED_PARAMS[model], HINTED_PARAMS[model], RESOLUTIONS.get(model, set())
    from kirin_jupyter.model import spec
    from kirin_jupyter.model.request import documented_fields

    entry = spec.MODELS.get(model)
    if entry is None:
        return None
    fields = set(documented_fields(entry)) - {"model", "image", "image_list"}
    return fields | {entry.image_field}, set(entry.hinted_params), set(entry.resolutions)

Answer = dict[str, Any]

ELEMENTS = "kirin_custom_elements"
FIRST_ELEMENT_ID = 2**53 + 1  # above what a float holds exactly
ELEMENT_TAGS = {f"o_{n}" for n in range(101, 109)}
_ELEMENT_COMMON = {"element_name", "element_description", "tag_list", "callback_url",
                   "external_task_id"}
ELEMENT_PARAMS = {
    "docs": _ELEMENT_COMMON | {"reference_type", "element_image_list"},
    "domestic": _ELEMENT_COMMON | {"element_frontal_image", "element_refer_list"},
}


def element_problem(body: Any, version: str) -> str | None:
    """Why an element create breaks the element page of ``version``, or None."""
    if not isinstance(body, dict) or set(body) != {"model", "input"} \
            or not isinstance(body["input"], list) or len(body["input"]) != 1 \
            or not isinstance(body["input"][0], dict) or set(body["input"][0]) != {"params"}:
        return "top level must be exactly {model, input: [{params}]}"
    params = body["input"][0]["params"]
    unknown = set(params) - ELEMENT_PARAMS[version]
    if unknown:
        return f"parameters not supported: {sorted(unknown)}"
    name = params.get("element_name")
    if not isinstance(name, str) or not 1 <= len(name) <= 20:
        return "element_name must be 1-20 characters"
    if not isinstance(params.get("element_description", ""), str) \
            or len(params.get("element_description", "")) > 100:
        return "element_description must be at most 100 characters"
    if version == "docs":
        images = params.get("element_image_list")
        if params.get("reference_type") != "image_refer" or not isinstance(images, list) \
                or len(images) != 1 or not isinstance(images[0], dict) \
                or set(images[0]) != {"frontal_image", "refer_images"}:
            return "element_image_list must be [{frontal_image, refer_images}]"
        frontal, refers = images[0]["frontal_image"], images[0]["refer_images"]
    else:
        frontal, refers = params.get("element_frontal_image"), params.get("element_refer_list")
    if not isinstance(frontal, str) or not frontal:
        return "frontal image missing"
    if not isinstance(refers, list) or not 1 <= len(refers) <= 3 or any(
            not isinstance(r, dict) or set(r) != {"image_url"} or not isinstance(
                r["image_url"], str) or r["image_url"] == frontal for r in refers):
        return "1-3 refer images as {image_url}, each unlike the frontal image"
    for tag in params.get("tag_list", []):
        if not isinstance(tag, dict) or set(tag) != {"tag_id"} or tag["tag_id"] not in ELEMENT_TAGS:
            return "tag_list items must be {tag_id: o_101..o_108}"
    return None


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
    known = _documented(model)
    if known is None:
        return f"unknown model {model!r}"
    documented, hinted, resolutions = known
    blocks = body["input"]
    if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], dict) \
            or set(blocks[0]) != {"params"} or not isinstance(blocks[0]["params"], dict):
        return "input must be [{params: {...}}]"
    params = blocks[0]["params"]
    unknown = set(params) - documented - hinted
    if unknown:
        return f"parameters not documented for {model}: {sorted(unknown)}"
    for name, value in params.items():
        if name in hinted:
            continue  # any JSON: its type is not known
        kind = _TYPES[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{name} has the wrong type"
    if not params.get("prompt", "").strip():
        return "prompt missing"
    if "resolution" in params and params["resolution"] not in resolutions:
        return f"resolution {params['resolution']!r} is not one of {sorted(resolutions)}"
    if params.get("result_type", "single") not in ("single", "series"):
        return "result_type must be single or series"
    if params.get("result_type") == "series" and not 2 <= params.get("series_amount", 4) <= 9:
        return "series_amount must be 2 to 9"
    watermark = params.get("watermark_info")
    if watermark is not None and (set(watermark) != {"enabled"}
                                  or not isinstance(watermark["enabled"], bool)):
        return "watermark_info must be {enabled: bool}"
    for item in params.get("image_list", []):
        if not isinstance(item, dict) or set(item) != {"image"} \
                or not isinstance(item["image"], str) or not item["image"]:
            return 'image_list items must be {"image": URL or base64}'
    for element in params.get("element_list", []) if "element_list" in documented else []:
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
    cancelled: bool = False


def completed(task: Task, usage: Answer | None = None) -> Answer:
    """The gateway's completed answer: one image per ``n``, with usage."""
    n = int(task.params.get("n", 1))
    if task.params.get("result_type") == "series":  # n is ignored for a series
        n = int(task.params.get("series_amount", 4))
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
    element_body: str = "docs"  # the element page version it follows; the other: HTTP 400
    # where a finished element task names its id: "content" (an output item's
    # element_id), "content_id" (its id), "top", "task_result" or "none"
    element_id_at: str = "task_result"
    element_refusals: list[str] = field(default_factory=list)
    raw_creates: list[bytes] = field(default_factory=list)  # each create body, as sent
    keep_creates: bool = True  # False: a benchmark's 3 GB of creates are counted, not kept
    # The storage route: files by id; each upload's (file name, bytes); bytes received by
    # every route; what the next uploads answer instead (an HTTP status, "no_url",
    # "not_json" or "hang_up"); where the URL sits in the answer ("data" or "top").
    stored: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[str, int]] = field(default_factory=list)
    bytes_received: int = 0
    upload_failures: list[int | str] = field(default_factory=list)
    upload_answer: str = "data"

    # model -> its Markdown document (GET /model/v1/models/skill/{model})
    model_docs: dict[str, str] = field(default_factory=lambda: {
        "kirin_v3_image": V3_DOC, "kirin_image_omni": OMNI_DOC})
    dialect: str = "generation"  # "generation", "queue" or "both": the protocols it speaks
    cancels: list[tuple[str, int]] = field(default_factory=list)  # (request id, answer)
    generation_404: int = 0  # generation creates refused because it speaks only the queue

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p == path)

    @property
    def creates(self) -> int:
        """Creates on both protocols (a refused one counts: it was sent)."""
        return self.count("POST", PREFIX) + self.queue_creates

    @property
    def queue_creates(self) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == "POST" and p.startswith(QUEUE)
                       and "/requests/" not in p)

    @property
    def upload_bytes(self) -> int:
        with self.lock:
            return sum(size for _, size in self.uploads)

    def forget_uploads(self) -> None:
        """Drop every stored file, as a storage service may after a time nobody states."""
        with self.lock:
            self.stored.clear()

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
            self.bytes_received += len(raw)
        if path.startswith("/cdn/") and method == "GET":
            if "authorization" in {k.lower() for k in headers}:
                self.cdn_auth_headers.append(path)
            return 200, _png(), "image/png"
        if headers.get("Authorization") != f"Bearer {self.key}":
            return _json(401, {"error": {"code": 401, "error_message": "invalid api key"}})
        if path.startswith(QUEUE):
            return self._queue(method, path.split("?")[0], headers, raw)
        if method == "POST" and path == PREFIX and self.dialect == "queue":
            with self.lock:
                self.generation_404 += 1
            return _json(404, {"message": "Not Found"})
        if method == "POST" and path in (PREFIX, PREFIX + "/precharge"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if path == PREFIX and self.keep_creates:
                with self.lock:
                    self.raw_creates.append(raw)
            if isinstance(body, dict) and body.get("model") == ELEMENTS:
                return self._element(path, body, headers)
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
            if self.dialect == "queue":
                self.rejections.append(f"generation query to a queue-only gateway: {path}")
                return _json(404, {"message": "Not Found"})
            return self._task(unquote(path[len(PREFIX + "/task/"):]))
        if method == "GET" and path.startswith(SKILL):
            return self._skill(path)
        if method == "POST" and path == STORAGE:
            return self._store(headers, raw)
        self.rejections.append(f"unexpected request {method} {path}")
        return _json(404, {"message": "Not Found"})

    def _store(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, str]:
        with self.lock:
            failure = self.upload_failures.pop(0) if self.upload_failures else None
        if failure == "hang_up":
            return HANG_UP, b"", ""
        if isinstance(failure, int):
            return _json(failure, {"code": failure, "message": "storage refused the file"})
        found = multipart_file(headers.get("Content-Type", ""), raw)
        if isinstance(found, str):
            self.rejections.append(f"POST {STORAGE}: {found}")
            return _json(400, {"code": 400, "message": found})
        name, data = found
        ident = f"f{len(self.uploads) + 1:04d}"
        with self.lock:
            self.stored[ident] = data
            self.uploads.append((name, len(data)))
        if failure == "not_json":
            return 200, b"<html>ok</html>", "text/html"
        url = f"{self.url}/storage/{ident}.png?X-Signature=secret-{ident}"
        if failure == "no_url":
            return _json(200, {"code": 0, "data": {"name": name}})
        return _json(200, {"url": url} if self.upload_answer == "top"
                     else {"code": 0, "data": {"url": url}})

    def _stale_upload(self, params: Answer) -> bool:
        """Does the create name a stored file this fake no longer keeps?"""
        values = [item.get("image") for item in params.get("image_list", [])
                  if isinstance(item, dict)] + [params.get("image")]
        prefix = f"{self.url}/storage/"
        with self.lock:
            return any(isinstance(v, str) and v.startswith(prefix) and
                       v[len(prefix):].split(".", 1)[0] not in self.stored for v in values)
    # -- the queue protocol ----------------------------------------------------------------

    def _queue(self, method: str, path: str, headers: dict[str, str], raw: bytes
               ) -> tuple[int, bytes, str]:
        if self.dialect == "generation":
            self.rejections.append(f"queue request to a generation-only gateway: {path}")
            return _json(404, {"message": "Not Found"})
        model, _, rest = path[len(QUEUE):].partition("/requests/")
        model = unquote(model)
        if method == "POST" and not rest:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict) and ("model" in body or "input" in body):
                problem = "a queue submit takes the raw parameters, no model or input"
            else:
                problem = contract_problem({"model": model, "input": [{"params": body}]})
            if "json" not in headers.get("Content-Type", ""):
                problem = "Content-Type must be application/json"
            if problem:
                self.rejections.append(f"POST {path}: {problem}")
                return _json(400, {"error": {"code": 400, "error_message": problem}})
            with self.lock:
                self.raw_creates.append(raw)
            status, answer, kind = self._create({"model": model, "input": [{"params": body}]})
            if status != 200:
                return status, answer, kind
            ident = json.loads(answer)["id"]
            base = f"{self.url}{QUEUE}{model}/requests/{ident}"
            return _json(200, {"request_id": ident, "status": "IN_QUEUE",
                               "status_url": base + "/status", "response_url": base +
                               "/response", "cancel_url": base + "/cancel",
                               "queue_position": 0})
        ident, _, call = unquote(rest).rpartition("/")
        with self.lock:
            task = self.tasks.get(ident)
        if task is None or task.model != model:
            if method == "PUT" and call == "cancel":
                with self.lock:
                    self.cancels.append((ident, 404))
            return _json(404, {"error": {"code": 404, "error_message": "request not found"}})
        if method == "GET" and call == "status":
            return self._queue_status(task)
        if method == "GET" and call == "response":
            return self._queue_response(task)
        if method == "PUT" and call == "cancel":
            return self._queue_cancel(task)
        self.rejections.append(f"unexpected request {method} {path}")
        return _json(404, {"message": "Not Found"})

    def _step(self, task: Task) -> Answer:
        with self.lock:
            if task.cancelled:
                return {"status": "failed", "error": "cancelled by the user",
                        "error_type": "CANCELED"}
            if task.gets < len(task.steps):
                step = task.steps[task.gets]
            elif self.auto_complete or task.released:
                step = task.final
            else:
                step = task.steps[-1]
            task.gets += 1
        return step

    def _queue_status(self, task: Task) -> tuple[int, bytes, str]:
        step = dict(self._step(task))
        word = str(step.get("status", ""))
        step.pop("output", None)
        step.pop("usage", None)
        if word == "failed":
            step["status"] = "COMPLETED"
            step.setdefault("error_type", "INFERENCE_FAILURE")
        else:
            step["status"] = {"in_progress": "IN_PROGRESS", "queued": "IN_QUEUE",
                              "pending": "IN_QUEUE", "completed": "COMPLETED"}.get(word, word)
        return _json(200, {"request_id": task.id, **step})

    def _queue_response(self, task: Task) -> tuple[int, bytes, str]:
        final = task.final
        if task.cancelled or final.get("status") != "completed":
            return _json(400, {"error": {"code": 400, "error_message": "not completed"}})
        outputs = []
        for block in final.get("output", []):
            for content in block.get("content", []):
                if isinstance(content, dict):
                    outputs.append({"type": content.get("type", "image"),
                                    "url": content.get("url"), "content_type": "image/png",
                                    "file_name": "out.png", "width": 64, "height": 48})
        metadata = {**final.get("metadata", {}), "usage": final.get("usage", {})}
        status, body, kind = _json(200, {"request_id": task.id, "outputs": outputs,
                                         "metadata": metadata})
        return status, body.replace(b"{cdn}", f"{self.url}/cdn".encode()), kind

    def _queue_cancel(self, task: Task) -> tuple[int, bytes, str]:
        with self.lock:
            done = task.gets > len(task.steps) and (self.auto_complete or task.released)
            if done and not task.cancelled:
                self.cancels.append((task.id, 400))
                return _json(400, {"error": {"code": "ALREADY_COMPLETED",
                                             "error_message": "ALREADY_COMPLETED"}})
            task.cancelled = True
            self.cancels.append((task.id, 202))
        return _json(202, {"status": "CANCELLATION_REQUESTED"})

    def _create(self, body: Answer) -> tuple[int, bytes, str]:
        params = body["input"][0]["params"]
        if self._stale_upload(params):
            return _json(400, {"error": {"code": 400,
                                         "error_message": "image url is not accessible"}})
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

    def _element(self, path: str, body: Answer, headers: dict[str, str]
                 ) -> tuple[int, bytes, str]:
        if headers.get("X-Model") not in (None, ELEMENTS):
            self.rejections.append(f"POST {path}: X-Model disagrees with the body")
        problem = element_problem(body, self.element_body)
        if problem:
            self.element_refusals.append(problem)
            return _json(400, {"error": {"code": 400, "error_message": problem}})
        if path.endswith("/precharge"):
            return self._quote(body)
        with self.lock:
            made = sum(1 for t in self.tasks.values() if t.model == ELEMENTS)
        task_status, answer, kind = self._create(body)
        if task_status == 200:
            task = self.tasks[json.loads(answer)["id"]]
            task.final = self._element_final(FIRST_ELEMENT_ID + made)
        return task_status, answer, kind

    def _element_final(self, element_id: int) -> Answer:
        final: Answer = {"status": "completed", "progress": 1,
                         "usage": {"cost": "0.10", "quantity": 1, "unit_price": "0.10"}}
        where = self.element_id_at
        if where == "content":
            final["output"] = [{"content": [{"type": "element", "element_id": element_id}]}]
        elif where == "content_id":
            final["output"] = [{"content": [{"type": "element", "id": element_id}]}]
        elif where == "top":
            final["element_id"] = element_id
        elif where == "task_result":
            final["task_result"] = {"elements": [{"element_id": element_id}]}
        else:
            final["output"] = [{"content": [{"type": "element"}]}]
        return final


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


def multipart_file(content_type: str, raw: bytes) -> tuple[str, bytes] | str:
    """(file name, bytes) of the one ``file`` field of a multipart/form-data body, or why
    the body is not one (parsed here by hand, apart from the simulator's parser)."""
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data" or "boundary=" not in rest:
        return "Content-Type must be multipart/form-data with a boundary"
    boundary = rest.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
    parts = raw.split(b"--" + boundary)
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        return "the multipart body does not end with its closing boundary"
    files = []
    for part in parts[1:-1]:
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        lines = head.decode("latin-1").lower()
        if 'name="file"' in lines:
            if "filename=" not in lines or "content-type: image/" not in lines:
                return "the file field needs a filename and an image Content-Type"
            name = head.decode("latin-1").split('filename="', 1)[1].split('"', 1)[0]
            files.append((name, data.removesuffix(b"\r\n")))
        else:
            return "only the field 'file' is sent"
    if len(files) != 1 or not files[0][1]:
        return "exactly one non-empty field 'file' is needed"
    return files[0]


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
