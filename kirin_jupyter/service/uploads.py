"""References uploaded once: a local image used by several tasks goes to the storage
endpoint the SeaCloud CLI uses, and its URL is sent instead of megabytes of base64.

Opt-in (``upload_references``): uploading sends the API key to a second host. The upload
is keyed by the image's SHA-256 and kept in the journal per upload host, for as long as
the service keeps it, which no page says: after a 4xx answer to a create that used an
uploaded URL, the runner asks ``again`` (forget, upload anew) and creates once more, as a
4xx means nothing was created. Any upload failure falls back to base64 with one log line.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ..errors import APIError, InsufficientBalance, KirinError, OutcomeUnknown, ServiceBusy
from ..model.images import ReferenceImage, without_query
from ..model.request import GenerationRequest

if TYPE_CHECKING:
    from ..storage.journal import Journal
    from .http import GatewayHTTP

log = logging.getLogger("kirin_jupyter")

# seacloud-cli internal/localfiles/upload.go: a multipart POST, field "file", the key as
# Bearer; the answer {"url"} or {"data": {"url"}} (gateway-facts.md "Reference images").
from .protocol import DEFAULT_UPLOAD_URL as DEFAULT_UPLOAD_URL  # noqa: E402
from .protocol import UPLOAD_MODES as UPLOAD_MODES  # noqa: E402
from .protocol import UPLOAD_PATH as UPLOAD_PATH  # noqa: E402

URL_MAX_CHARS = 4096  # an uploaded file's URL, signed query included
_MIME = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg")}
# A refused create that says nothing about the image: asking again would not help.
_NOT_ABOUT_IMAGES = (401, 409, 429)


def url_in_answer(payload: Any) -> str | None:
    """The uploaded file's URL in the upload's answer: ``{"url"}`` first, else
    ``{"data": {"url"}}``, as the CLI reads it; None unless it is a plain http(s) URL of
    sane length with a host."""
    found: Any = None
    if isinstance(payload, dict):
        found = payload.get("url")
        data = payload.get("data")
        if not (isinstance(found, str) and found) and isinstance(data, dict):
            found = data.get("url")
    if not isinstance(found, str) or not 0 < len(found) <= URL_MAX_CHARS:
        return None
    if not found.isascii() or any(ch.isspace() or not ch.isprintable() for ch in found):
        return None
    try:
        parts = urlsplit(found)
    except ValueError:
        return None
    return found if parts.scheme in ("http", "https") and parts.hostname else None


def refused_with_upload(error: BaseException, request: GenerationRequest) -> bool:
    """A create refused with a 4xx (so nothing was created) that sent an uploaded URL:
    the service may no longer keep that file, so it is worth one more try."""
    if not any(ref.uploaded_url for ref in request.images):
        return False
    if not isinstance(error, APIError) or isinstance(
            error, (InsufficientBalance, ServiceBusy, OutcomeUnknown)):
        return False
    status = error.status_code
    return status is not None and 400 <= status < 500 and status not in _NOT_ABOUT_IMAGES


class Uploads:
    """One client's uploads: which hashes its tasks use, and where each was uploaded.

    Lives on the engine loop (``prepare``, ``again``); ``expect`` may be called from any
    thread. One upload of a hash at a time: jobs that need it meanwhile wait for it."""

    def __init__(self, api: GatewayHTTP, journal: Journal | None, mode: str = "never",
                 upload_url: str = DEFAULT_UPLOAD_URL) -> None:
        self.api = api
        self.journal = journal
        self.mode = mode
        self.upload_url = upload_url
        self.uploads = 0  # made by this object: tests and the benchmark read them
        self.uploaded_bytes = 0
        self._lock = threading.Lock()
        self._users: dict[str, set[str]] = {}  # sha256 -> external ids of tasks using it
        self._urls: dict[tuple[str, str], str] = {}  # (upload_url, sha256) -> URL
        self._failed: set[tuple[str, str]] = set()  # not tried again in this session
        self._pending: dict[tuple[str, str], asyncio.Future[str | None]] = {}

    def __repr__(self) -> str:
        return f"Uploads({self.mode!r}, {without_query(self.upload_url)!r})"

    def configure(self, api: GatewayHTTP, mode: str, upload_url: str) -> None:
        """New settings (``%config Kirin``); what was counted and uploaded is kept."""
        self.api, self.mode, self.upload_url = api, mode, upload_url

    def expect(self, requests: Iterable[GenerationRequest]) -> None:
        """Count the tasks that will use each reference (a batch's or a sweep's, before
        the first is sent), so the first of them already sends the URL."""
        with self._lock:
            for request in requests:
                for ref in request.images:
                    if not ref.is_url:
                        self._users.setdefault(ref.sha256, set()).add(request.external_task_id)

    def _wanted(self, ref: ReferenceImage) -> bool:
        if ref.is_url or ref.uploaded_url:
            return False  # a URL the user gave is never uploaded
        if self.mode == "always":
            return True
        key = (self.upload_url, ref.sha256)
        with self._lock:
            return len(self._users.get(ref.sha256, ())) >= 2 or key in self._urls

    async def prepare(self, request: GenerationRequest) -> GenerationRequest:
        """``request`` with its references sent as uploaded URLs where the mode says so;
        ``request`` itself when none is (and always with mode ``never``)."""
        if self.mode not in ("reused", "always") or not request.images:
            return request
        self.expect([request])
        images = []
        for ref in request.images:
            url = None
            if self._wanted(ref) or await self._known(ref):
                url = await self._url_for(ref)
            images.append(replace(ref, uploaded_url=url) if url else ref)
        changed = tuple(images)
        return request if changed == request.images else replace(request, images=changed)

    async def again(self, request: GenerationRequest) -> GenerationRequest:
        """After a create refused while it sent uploaded URLs: forget them and upload those
        images anew (base64 where that fails)."""
        for ref in request.images:
            if ref.uploaded_url:
                await self._forget(ref.sha256, ref.uploaded_url)
        bare = tuple(replace(ref, uploaded_url=None) for ref in request.images)
        return await self.prepare(replace(request, images=bare))

    async def _known(self, ref: ReferenceImage) -> bool:
        """Uploaded before, by this kernel or an earlier one (the journal keeps it)."""
        if ref.is_url or self.journal is None:
            return False
        key = (self.upload_url, ref.sha256)
        if key in self._urls:
            return True
        try:
            found = await asyncio.to_thread(self.journal.upload, *key)
        except (sqlite3.Error, OSError) as exc:
            log.info("uploads: the journal was not read (%s)", exc)
            return False
        if found is None or url_in_answer({"url": found}) is None:
            return False
        self._urls.setdefault(key, found)
        return True

    async def _url_for(self, ref: ReferenceImage) -> str | None:
        key = (self.upload_url, ref.sha256)
        if key in self._urls:
            return self._urls[key]
        if key in self._failed:
            return None
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            url = await self._upload(ref)
        except BaseException:
            future.set_result(None)
            raise
        finally:
            self._pending.pop(key, None)
        if url is None:
            self._failed.add(key)
        else:
            self._urls[key] = url
        if not future.done():
            future.set_result(url)
        return url

    async def _forget(self, sha256: str, url: str) -> None:
        key = (self.upload_url, sha256)
        if self._urls.get(key) == url:
            del self._urls[key]
        if self.journal is not None:
            try:
                await asyncio.to_thread(self.journal.forget_upload, self.upload_url, sha256,
                                        url)
            except (sqlite3.Error, OSError) as exc:
                log.info("uploads: the journal was not written (%s)", exc)

    async def _upload(self, ref: ReferenceImage) -> str | None:
        """One multipart POST of the image's bytes; its URL, or None (logged once)."""
        data = await asyncio.to_thread(base64.b64decode, ref.value)
        kind = ref.facts.format if ref.facts and ref.facts.format else "PNG"
        mime, suffix = _MIME.get(kind, ("image/png", ".png"))
        name = f"reference-{ref.sha256[:16]}{suffix}"  # never the user's own file name
        host = urlsplit(self.upload_url).hostname or "?"
        try:
            response = await self.api.send_request(
                "POST", self.upload_url, files={"file": (name, data, mime)})
        except (KirinError, httpx.HTTPError, OSError) as exc:
            self._fell_back(ref, host, f"{exc.__class__.__name__}")
            return None
        if response.status_code >= 300:
            self._fell_back(ref, host, f"HTTP {response.status_code}")
            return None
        try:
            url = url_in_answer(self.api.json_of(response))
        except ValueError:
            url = None
        if url is None:
            self._fell_back(ref, host, "an answer without a usable url")
            return None
        self.uploads += 1
        self.uploaded_bytes += len(data)
        log.info("uploaded reference %s (%d bytes) to %s: %s", ref.sha256[:16], len(data),
                 host, without_query(url))
        if self.journal is not None:
            try:
                await asyncio.to_thread(self.journal.record_upload, self.upload_url,
                                        ref.sha256, url, len(data))
            except (sqlite3.Error, OSError) as exc:
                log.info("uploads: the journal was not written (%s)", exc)
        return url

    def _fell_back(self, ref: ReferenceImage, host: str, why: str) -> None:
        log.warning("upload of reference %s to %s failed (%s); sending it as base64",
                    ref.sha256[:16], host, self.api.redact(why))
