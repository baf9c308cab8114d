"""The gateway's model documents over loopback HTTP: fetched with the key, compared with
the spec table, kept in KIRIN_HOME for a day, and every failure one line without the key.

The strict fake (tests/support/gateway.py) serves hand-written documents and refuses a
request without the key; the simulator's server serves documents made from the spec
table."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kirin_jupyter import KirinError, Limits
from kirin_jupyter.client import Client
from kirin_jupyter.errors import (
    APIError,
    AuthenticationError,
    LimitExceeded,
    ServiceUnavailable,
    ValidationError,
)
from kirin_jupyter.model import spec
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import Fault
from kirin_jupyter.storage.model_doc_cache import DAY
from tests.conftest import TEST_KEY
from tests.support.gateway import SKILL, Gateway, GatewayServer

V3_PATH = SKILL + spec.V3
SEARCH = SKILL + "search"


@pytest.fixture
def fake() -> Iterator[Gateway]:
    """The strict fake, without the shared fixture's check that nothing was refused (the
    tests of a missing key are refused on purpose)."""
    state = Gateway(TEST_KEY)
    with GatewayServer(state):
        yield state


def client_for(url: str, tmp_path: Path, key: str | None = TEST_KEY, **kw: object) -> Client:
    return Client(api_key=key, base_url=url, output_dir=tmp_path / "out",
                  home=tmp_path / "home", **kw)  # type: ignore[arg-type]


def one_line_without_key(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, KirinError) and "\n" not in text and TEST_KEY not in text
    assert "Traceback" not in text
    return text


def cached_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "home" / "model_docs").rglob("*.*"))


# -- the strict fake -------------------------------------------------------------------------

def test_the_document_from_the_gateway_names_the_fields_kirin_jupyter_lacks(
        fake: Gateway, tmp_path: Path) -> None:
    client = client_for(fake.url, tmp_path)
    doc = client.model_doc("v3")
    assert doc.model == spec.V3 and not doc.cached and doc.host == fake.url
    assert doc.text.startswith("Kirin V3 Image")
    assert doc.parameters[:3] == ["model", "prompt", "negative_prompt"]
    assert "element_id" not in doc.parameters and "enabled" not in doc.parameters
    assert doc.coverage.hinted == ("image_fidelity",) and doc.coverage.unknown == ()
    assert "image_fidelity" in str(doc) and "image_fidelity" in (doc._repr_html_() or "")
    assert "image\\_fidelity" in (doc._repr_markdown_() or "")
    assert fake.requests == [("GET", V3_PATH)] and fake.rejections == []


def test_the_gateway_list_beside_the_spec_table(fake: Gateway, tmp_path: Path) -> None:
    fake.model_docs["kirin_v1_image"] = "## Parameters\n- `prompt` (string)\n"
    models = client_for(fake.url, tmp_path).model_list()
    assert [hit.id for hit in models.hits] == [spec.V3, spec.OMNI, "kirin_v1_image"]
    assert models.not_in_spec == ("kirin_v1_image",)
    assert "no: not in the spec table" in str(models)
    assert fake.requests == [("GET", SEARCH)] and fake.rejections == []
    v1 = client_for(fake.url, tmp_path).model_doc("kirin_v1_image")
    assert not v1.coverage.in_spec and "not in kirin-jupyter's spec table" in str(v1)


def test_a_second_call_within_a_day_asks_nothing_and_a_stale_one_asks_again(
        fake: Gateway, tmp_path: Path) -> None:
    client = client_for(fake.url, tmp_path)
    first = client.model_doc(spec.V3)
    client.model_list()
    again = client_for(fake.url, tmp_path).model_doc("kirin_v3_image")  # a new kernel
    assert again.cached and again.text == first.text
    assert client.model_list().cached
    assert fake.count("GET", V3_PATH) == 1 and fake.count("GET", SEARCH) == 1
    files = cached_files(tmp_path)
    assert [f.name for f in files] == ["kirin_v3_image.md", "search-kirin.json"]
    assert not list(files[0].parent.glob(".*"))  # no temporary file left behind
    old = time.time() - DAY - 60
    for path in files:
        os.utime(path, (old, old))
    fresh = client.model_doc(spec.V3)
    assert not fresh.cached and not client.model_list().cached
    assert fake.count("GET", V3_PATH) == 2 and fake.count("GET", SEARCH) == 2
    client.model_doc(spec.V3, refresh=True)
    assert fake.count("GET", V3_PATH) == 3


def test_the_cache_is_per_host(fake: Gateway, tmp_path: Path) -> None:
    client_for(fake.url, tmp_path).model_doc(spec.V3)
    with SimulatorServer(api_key=TEST_KEY) as sim:
        doc = client_for(sim.url, tmp_path).model_doc(spec.V3)
        assert not doc.cached and "| `image_fidelity` | any |" in doc.text
        assert sim.service.stats()["requests"]["doc"] == 1


def test_without_the_key_the_gateway_refuses_in_one_line(fake: Gateway, tmp_path: Path
                                                         ) -> None:
    with pytest.raises(AuthenticationError) as caught:
        client_for(fake.url, tmp_path, key="sk-wrong-key-000000").model_doc(spec.V3)
    text = one_line_without_key(caught.value)
    assert text.startswith("the gateway's document for kirin_v3_image: ") and "401" in text
    assert "sk-wrong-key" not in text and cached_files(tmp_path) == []


def test_an_unknown_model_is_one_line(fake: Gateway, tmp_path: Path) -> None:
    with pytest.raises(APIError) as caught:
        client_for(fake.url, tmp_path).model_doc("kirin_nope_image")
    assert "has none (HTTP 404)" in one_line_without_key(caught.value)
    assert cached_files(tmp_path) == []


def test_a_bad_name_is_refused_before_any_request(fake: Gateway, tmp_path: Path) -> None:
    for bad in ("../../etc/passwd", "search", "a b"):
        with pytest.raises(ValidationError):
            client_for(fake.url, tmp_path).model_doc(bad)
    assert fake.requests == []


def answer_with(fake: Gateway, path: str, status: int, body: bytes, kind: str,
                delay: float = 0.0) -> None:
    def hostile(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # we hung up
            handler.wfile.write(body)
    fake.hostile[path] = hostile


@pytest.mark.parametrize(("status", "body", "kind", "error", "words"), [
    (503, b'{"error": {"code": 503, "error_message": "down"}}', "application/json",
     ServiceUnavailable, "HTTP 503"),
    (500, b"<html>oops</html>", "text/html", ServiceUnavailable, "HTTP 500"),
    (200, b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png", APIError,
     "not text (Content-Type image/png)"),
    (200, b"# doc\n" + b"x" * (1 << 20), "text/markdown", LimitExceeded, "refused"),
    (200, b"\xff\xfe not utf-8", "text/plain", APIError, "not UTF-8 text"),
    (200, b"   \n", "text/markdown", APIError, "the document is empty"),
    (200, b'{"hits": []}', "application/json", APIError, "without a document"),
])
def test_a_failed_fetch_is_one_line(fake: Gateway, tmp_path: Path, status: int, body: bytes,
                                    kind: str, error: type[Exception], words: str) -> None:
    answer_with(fake, V3_PATH, status, body, kind)
    with pytest.raises(error) as caught:
        client_for(fake.url, tmp_path).model_doc(spec.V3)
    text = one_line_without_key(caught.value)
    assert text.startswith("the gateway's document for kirin_v3_image: ") and words in text
    assert cached_files(tmp_path) == []


def test_a_document_inside_json_is_read(fake: Gateway, tmp_path: Path) -> None:
    """Whether the gateway wraps the Markdown in JSON is not known: either is read."""
    wrapped = json.dumps({"data": {"content": "## Parameters\n- `prompt` (string)\n"}})
    answer_with(fake, V3_PATH, 200, wrapped.encode(), "application/json")
    assert client_for(fake.url, tmp_path).model_doc(spec.V3).parameters == ["prompt"]


def test_a_slow_answer_is_one_line_within_the_limit(fake: Gateway, tmp_path: Path) -> None:
    answer_with(fake, V3_PATH, 200, b"# late\n", "text/markdown", delay=1.5)
    client = client_for(fake.url, tmp_path, limits=Limits(request_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        client.model_doc(spec.V3)
    assert time.monotonic() - started < 1.4
    assert "no answer within 0.5 s" in one_line_without_key(caught.value)


def test_no_answer_at_all_is_one_line(tmp_path: Path) -> None:
    with SimulatorServer() as sim:
        url = sim.url  # closed: nothing listens there any more
    with pytest.raises(ServiceUnavailable) as caught:
        client_for(url, tmp_path).model_doc(spec.V3)
    assert "no answer from http://127.0.0.1" in one_line_without_key(caught.value)


def test_a_key_echoed_in_the_document_is_never_shown_or_kept(fake: Gateway, tmp_path: Path
                                                             ) -> None:
    answer_with(fake, V3_PATH, 200, f"## Parameters\n- `prompt` (string): {TEST_KEY}\n"
                .encode(), "text/markdown")
    doc = client_for(fake.url, tmp_path).model_doc(spec.V3)
    shown = [str(doc), repr(doc), doc._repr_html_() or "", doc._repr_markdown_() or ""]
    assert all(TEST_KEY not in form for form in shown) and "***" in doc.text
    assert all(TEST_KEY.encode() not in path.read_bytes() for path in cached_files(tmp_path))


def test_a_search_answer_of_the_wrong_shape_is_one_line(fake: Gateway, tmp_path: Path
                                                        ) -> None:
    answer_with(fake, SEARCH, 200, b'{"models": "none"}', "application/json")
    with pytest.raises(APIError) as caught:
        client_for(fake.url, tmp_path).model_list()
    assert 'no list of models ("hits")' in one_line_without_key(caught.value)
    answer_with(fake, SEARCH, 200, b'{"hits": [{"id": 1}, "x", {"name": "no id"}, '
                b'{"id": "kirin_v3_image", "tags": ["a", 2], "input": ["text", 3]}]}',
                "application/json")
    models = client_for(fake.url, tmp_path).model_list(refresh=True)
    assert [hit.id for hit in models.hits] == ["1", spec.V3]
    assert models.hits[1].tags == ("a",) and models.hits[1].input == "text"


# -- the simulator ---------------------------------------------------------------------------

def test_the_simulator_serves_documents_from_the_spec_table(tmp_path: Path) -> None:
    with SimulatorServer(api_key=TEST_KEY) as sim:
        client = client_for(sim.url, tmp_path)
        for model in spec.MODELS.values():
            doc = client.model_doc(model.alias)
            assert doc.coverage.in_spec and doc.coverage.unknown == ()
            assert doc.coverage.not_listed == ()  # every field the table sends is there
            assert doc.coverage.hinted == tuple(
                name for name in model.hinted_params
                if name not in doc.coverage.known)
        assert "image_fidelity" in client.model_doc(spec.V3).coverage.lacking
        models = client.model_list()
        assert {hit.id for hit in models.hits} == set(spec.MODELS)
        with pytest.raises(APIError, match=r"has none \(HTTP 404\)"):
            client.model_doc("kirin_nope_image")
        with pytest.raises(AuthenticationError):
            client_for(sim.url, tmp_path / "other", key="sk-wrong-key-000000"
                       ).model_doc(spec.OMNI)
        sim.service.add_fault(Fault("doc", "status", status=502))
        with pytest.raises(ServiceUnavailable) as caught:
            client.model_doc(spec.OMNI, refresh=True)
        assert "HTTP 502" in one_line_without_key(caught.value)
