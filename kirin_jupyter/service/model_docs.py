"""The gateway's model documents on the wire: a model's parameter document, ``GET
/model/v1/models/skill/{model}`` (Markdown), and the model search, ``GET
/model/v1/models/skill/search?q=kirin`` (JSON ``{"hits": [...]}``), as sea_sdk_js's
``src/modal.js`` asks for them, with the key as Bearer.

Both answers are untrusted: read within tighter bounds than the API's own answers (1 MiB,
30 s), checked to be text or JSON of the expected shape, the key taken out of them, and
every failure turned into one line (a ``KirinError``) that never carries the key.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx

from ..errors import APIError, KirinError, LimitExceeded, ServiceUnavailable
from ..model.model_doc import ModelHit
from .http import Limits, one_line

if TYPE_CHECKING:
    from .http import GatewayHTTP

DOC_PATH = "/model/v1/models/skill/{model}"
SEARCH_PATH = "/model/v1/models/skill/search"
SEARCH_QUERY = "kirin"
DOC_BYTES = 1 << 20  # a model's page is a few KB; 1 MiB is plenty and bounds a hostile one
DOC_SECONDS = 30.0
MAX_HITS = 500
_FIELD_CHARS = 200
_TEXT_KEYS = ("markdown", "content", "document", "skill", "text", "data")


def doc_url(base_url: str, model: str) -> str:
    return base_url.rstrip("/") + DOC_PATH.replace("{model}", quote(model, safe=""))


def search_url(base_url: str, query: str) -> str:
    return base_url.rstrip("/") + SEARCH_PATH + "?" + urlencode({"q": query})


def doc_limits(limits: Limits) -> Limits:
    """The client's limits, tightened for a document (a setting may only lower them)."""
    return replace(limits, answer_bytes=min(DOC_BYTES, limits.answer_bytes),
                   request_seconds=min(DOC_SECONDS, limits.request_seconds))


async def fetch_document(api: GatewayHTTP, model: str) -> str:
    """The Markdown document of ``model``, its key redacted; one-line errors."""
    what = f"the gateway's document for {model}"
    response = await _get(api, doc_url(api.endpoint.base_url, model), what,
                          "text/markdown, text/plain;q=0.9, application/json;q=0.5")
    if response.status_code == 404:
        raise APIError(f"{what}: the gateway has none (HTTP 404); %kirin models --live lists "
                       "the models it documents", status_code=404)
    _refuse_errors(api, response, what)
    return api.redact(document_text(response, what))


async def fetch_search(api: GatewayHTTP, query: str = SEARCH_QUERY) -> bytes:
    """The model search's answer as JSON bytes, key redacted, shape checked (``hits``)."""
    what = f"the gateway's model list (search {query!r})"
    response = await _get(api, search_url(api.endpoint.base_url, query), what,
                          "application/json")
    _refuse_errors(api, response, what)
    try:
        payload = api.json_of(response)
    except ValueError:
        raise APIError(f"{what}: the answer is not JSON (HTTP {response.status_code})",
                       status_code=response.status_code) from None
    parse_hits(payload, what)  # refused here, before it is cached
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


async def _get(api: GatewayHTTP, url: str, what: str, accept: str) -> httpx.Response:
    try:
        return await api.send_request("GET", url, limits=doc_limits(api.limits),
                                      headers={"Accept": accept})
    except LimitExceeded as exc:
        raise LimitExceeded(f"{what}: {api.redact(str(exc))}") from None
    except KirinError as exc:  # AnswerCut: a status line, then too slow or cut off
        raise ServiceUnavailable(f"{what}: {api.redact(one_line(str(exc)))}") from None
    except httpx.HTTPError as exc:
        bound = doc_limits(api.limits).request_seconds
        why = (f"no answer within {bound:g} s" if isinstance(exc, httpx.TimeoutException)
               else f"no answer from {api.endpoint.base_url} ({exc.__class__.__name__})")
        raise ServiceUnavailable(f"{what}: {why}") from None


def _refuse_errors(api: GatewayHTTP, response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        error = api.error_for(response)
        raise type(error)(f"{what}: {error}", code=error.code,
                          status_code=error.status_code) from None


def document_text(response: httpx.Response, what: str) -> str:
    """The document's Markdown from an answer: text (``text/markdown``, ``text/plain``,
    no type at all) as UTF-8, or JSON holding it as a string (bare, or under ``markdown``,
    ``content``, ``document``, ``skill``, ``text`` or ``data``, one level down at most).
    Anything else (an image, HTML, binary) is refused."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    body = response.content
    if kind in ("application/json", "text/json") or kind.endswith("+json"):
        text = _text_in_json(body)
        if text is None:
            raise APIError(f"{what}: a JSON answer without a document in it",
                           status_code=response.status_code)
    elif kind in ("", "text/markdown", "text/x-markdown", "text/plain"):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise APIError(f"{what}: the answer is not UTF-8 text",
                           status_code=response.status_code) from None
    else:
        raise APIError(f"{what}: the answer is not text (Content-Type {one_line(kind, 60)})",
                       status_code=response.status_code)
    if "\x00" in text:
        raise APIError(f"{what}: the answer is not text (it holds NUL bytes)",
                       status_code=response.status_code)
    if not text.strip():
        raise APIError(f"{what}: the document is empty", status_code=response.status_code)
    return text


def _text_in_json(body: bytes) -> str | None:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return None
    for _ in range(2):
        if isinstance(payload, str):
            return payload
        if not isinstance(payload, dict):
            return None
        payload = next((payload[key] for key in _TEXT_KEYS if key in payload), None)
    return payload if isinstance(payload, str) else None


def parse_hits(payload: Any, what: str = "the gateway's model list") -> list[ModelHit]:
    """The models of a search answer: ``{"hits": [...]}`` (also under ``data``, or a bare
    list); hits that are not objects with an ``id`` are left out; at most ``MAX_HITS``."""
    hits = payload
    if isinstance(hits, dict) and isinstance(hits.get("data"), dict | list):
        hits = hits["data"]
    if isinstance(hits, dict):
        hits = hits.get("hits")
    if not isinstance(hits, list):
        raise APIError(f"{what}: the answer has no list of models (\"hits\")")
    models = []
    for item in hits[:MAX_HITS]:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if not isinstance(ident, str) or not ident.strip():
            continue
        models.append(ModelHit(
            id=_field(ident), name=_field(item.get("name")),
            provider=_field(item.get("provider")), input=_field(item.get("input")),
            output=_field(item.get("output")), media_type=_field(item.get("media_type")),
            tags=tuple(_field(tag) for tag in item.get("tags") or () if isinstance(tag, str)
                       )[:20] if isinstance(item.get("tags"), list) else ()))
    return models


def _field(value: Any) -> str:
    """A hit's field as one short line: a string, or a list of strings joined."""
    if isinstance(value, list):
        value = ", ".join(v for v in value if isinstance(v, str))
    return one_line(value, _FIELD_CHARS) if isinstance(value, str) else ""
