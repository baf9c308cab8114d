"""The gateway's wire protocol: where each request goes and the shape of its body.

The Kirin API pages list the parameters flat and name no paths. The service behind them is
the SeaCloud/SeaArt multimodal gateway, whose public clients (seacloud-cli's
``internal/generation/client.go``, sea_sdk_js's ``src/modal.js``) show the protocol:

- create: ``POST {base}/model/v1/generation`` with
  ``{"model": ID, "input": [{"params": {every other parameter}}]}``;
- query:  ``GET {base}/model/v1/generation/task/{id}`` (the external id works too);
- quote:  ``POST {base}/model/v1/generation/precharge``, the same body; creates nothing.

Paths stay configurable, and a deployment that wants the parameters flat (as the pages
list them) can say ``body_style="flat"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from ..errors import APIError, ValidationError

# The gateway's hosts, by the names users know them by. Vtrix's documentation, which the
# model pages come from, creates every multimodal model at cloud.vtrix.ai; the SeaCloud
# CLI's default host is cloud.seaart.ai. Both take the same paths.
HOSTS = {"vtrix": "https://cloud.vtrix.ai", "seacloud": "https://cloud.seaart.ai"}
DEFAULT_HOST = "vtrix"


def service_url(value: str) -> str:
    """A ``base_url`` setting as a URL: a host name (``vtrix``, ``seacloud``) or a URL."""
    return HOSTS.get(value.strip().lower(), value.strip())


def host_choice(base_url: str, source: str, has_key: bool) -> tuple[str | None, str]:
    """(URL, why): where requests go and why, for ``%kirin config`` and the doctor. None
    means the built-in simulator (no key and no URL)."""
    if base_url.strip():
        named = base_url.strip().lower() in HOSTS
        return service_url(base_url), (f"base_url {base_url.strip()!r} (from {source})"
                                       + (", a known host name" if named else ""))
    if has_key:
        return HOSTS[DEFAULT_HOST], ("a key without a base URL: the host of the Vtrix "
                                     "documentation the model pages come from (set "
                                     "KIRIN_BASE_URL to vtrix, seacloud or a URL to change it)")
    return None, "no key and no base URL: the built-in simulator"


BodyStyle = Literal["wrapped", "flat"]
BODY_STYLES: tuple[BodyStyle, ...] = ("wrapped", "flat")

DEFAULT_CREATE_PATH = "/model/v1/generation"
DEFAULT_TASK_PATH = "/model/v1/generation/task/{id}"
DEFAULT_QUOTE_PATH = "/model/v1/generation/precharge"
DEFAULT_BODY_STYLE: BodyStyle = "wrapped"


def wrap(flat: dict[str, Any], style: BodyStyle = DEFAULT_BODY_STYLE) -> dict[str, Any]:
    """The body as it goes on the wire, from the flat parameter list of the pages."""
    if style == "flat":
        return dict(flat)
    params = {key: value for key, value in flat.items() if key != "model"}
    return {"model": flat["model"], "input": [{"params": params}]}


def unwrap(body: Any) -> dict[str, Any] | None:
    """The flat parameters of a wrapped body, or None when it is not in that shape."""
    if not isinstance(body, dict) or set(body) != {"model", "input"}:
        return None
    blocks = body["input"]
    if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], dict):
        return None
    params = blocks[0].get("params")
    if set(blocks[0]) != {"params"} or not isinstance(params, dict) or "model" in params:
        return None
    return {"model": body["model"], **params}


def check_body_style(value: Any) -> BodyStyle:
    if value not in BODY_STYLES:
        raise ValidationError(f"body_style {value!r} is not one of: {', '.join(BODY_STYLES)}")
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Endpoint:
    """Where the service lives and how it wants its bodies."""

    base_url: str
    create_path: str = DEFAULT_CREATE_PATH
    task_path: str = DEFAULT_TASK_PATH
    quote_path: str = DEFAULT_QUOTE_PATH
    body_style: BodyStyle = DEFAULT_BODY_STYLE

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def create_url(self) -> str:
        return self._url(self.create_path)

    def quote_url(self) -> str:
        return self._url(self.quote_path)

    def task_url(self, task_id: str) -> str:
        if task_id in (".", ".."):
            raise APIError(f"refusing the task id {task_id!r}")
        return self._url(self.task_path.replace("{id}", quote(task_id, safe="")))

    def wire_body(self, flat: dict[str, Any]) -> dict[str, Any]:
        return wrap(flat, self.body_style)


# References uploaded once (``uploads.py``): the storage route the SeaCloud CLI uploads a
# local file to (seacloud-cli internal/localfiles/upload.go). Here, not in uploads.py, so
# the settings can name them without importing httpx at ``%load_ext``.
UPLOAD_PATH = "/api/v1/storage/files"
DEFAULT_UPLOAD_URL = "https://sea-cloud-admin-web.real-cloud.seaart.ai" + UPLOAD_PATH
UPLOAD_MODES = ("never", "reused", "always")
