"""Elements (issue 25 item 1) over real loopback HTTP: made by the simulator and by the
strict fake (each place the id may come back), journaled, listed, then used by name in a
later v3 generation whose wire body carries the exact id above 2**53."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kirin_jupyter import APIError, BudgetExceeded, ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import FIRST_ELEMENT_ID, Gateway, GatewayServer

BIG = 2**53


def fake_client(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, **kw)  # type: ignore[arg-type]


def pictures(make_image: Callable[..., Path]) -> tuple[Path, Path, Path]:
    from PIL import Image

    front = make_image(600, 800, "PNG", name="front.png")
    refer = make_image(640, 480, "JPEG", name="side.jpg")
    other = front.with_name("back.png")
    Image.new("RGB", (500, 500), (10, 200, 90)).save(other)
    return front, refer, other


@pytest.mark.parametrize("where", ["content", "content_id", "top", "task_result"])
def test_fake_element_is_made_journaled_listed_and_used_by_name(
        gateway: Gateway, tmp_path: Path, make_image, where: str) -> None:
    gateway.element_id_at = where
    front, refer, other = pictures(make_image)
    client = fake_client(gateway, tmp_path)
    fox = client.create_element("fox", "a red fox", front, [refer, other],
                                tags=["character", "o_103"])
    assert fox.element_id == FIRST_ELEMENT_ID and fox.element_id > BIG
    assert fox.tags == ("o_102", "o_103") and fox.task_id
    [body] = [json.loads(raw) for raw in gateway.raw_creates]
    params = body["input"][0]["params"]
    assert body["model"] == "kirin_custom_elements"
    assert params["reference_type"] == "image_refer"
    [item] = params["element_image_list"]
    assert len(item["refer_images"]) == 2 and set(item["refer_images"][0]) == {"image_url"}
    assert params["tag_list"] == [{"tag_id": "o_102"}, {"tag_id": "o_103"}]
    # journaled: name, hashes, task, exact id, raw answer, base_url
    [row] = client.journal.elements(gateway.url)
    assert row["element_id"] == str(FIRST_ELEMENT_ID) and row["task_id"] == fox.task_id
    assert row["name"] == "fox" and len(json.loads(row["refers"])) == 2
    assert len(row["frontal"]) == 64 and str(FIRST_ELEMENT_ID) in row["answer"]
    assert [e.name for e in client.elements()] == ["fox"]
    # used by name: the wire body carries the exact 64-bit id
    client.generate("the fox in snow", model="v3", elements=["fox"]).wait(20)
    raw = gateway.raw_creates[-1]
    assert re.search(rb'"element_list":\s*\[\{"element_id":\s*' +
                     str(FIRST_ELEMENT_ID).encode() + rb"\}\]", raw)
    assert float(FIRST_ELEMENT_ID) != FIRST_ELEMENT_ID  # a float would have lost it
    assert gateway.element_refusals == []


def test_fake_domestic_body_and_refusal_names_the_other_setting(
        tmp_path: Path, make_image) -> None:
    front, refer, _ = pictures(make_image)
    state = Gateway(TEST_KEY, element_body="domestic")
    with GatewayServer(state):
        client = fake_client(state, tmp_path)
        with pytest.raises(APIError) as refused:
            client.create_element("fox", "", front, [refer])
        message = str(refused.value)
        assert "\n" not in message and "element_body='domestic'" in message
        assert "%config Kirin.element_body = 'domestic'" in message
        assert len(state.element_refusals) == 1
        row = client.journal.elements(made_only=False)[0]
        assert row["status"] == "failed" and row["element_id"] is None
        made = fake_client(state, tmp_path, element_body="domestic").create_element(
            "fox", "", front, [refer])
        params = json.loads(state.raw_creates[-1])["input"][0]["params"]
        assert set(params) >= {"element_frontal_image", "element_refer_list"}
        assert "reference_type" not in params and made.element_id == FIRST_ELEMENT_ID
    assert state.rejections == []


def test_no_id_in_the_answer_is_one_line_with_its_keys(gateway: Gateway, tmp_path: Path,
                                                       make_image) -> None:
    gateway.element_id_at = "none"
    front, refer, _ = pictures(make_image)
    client = fake_client(gateway, tmp_path)
    with pytest.raises(APIError) as missing:
        client.create_element("fox", "", front, [refer])
    message = str(missing.value)
    assert "\n" not in message and "names no element id" in message
    assert "output{content}" in message and "status" in message and "usage" in message
    row = client.journal.elements(made_only=False)[0]
    assert row["status"] == "no_id" and '"type": "element"' in row["answer"]
    with pytest.raises(ValidationError, match="known elements: none yet"):
        client.build("x", model="v3", elements=["fox"])


def test_simulator_makes_elements_with_ids_above_2_53_for_both_bodies(
        tmp_path: Path, make_image) -> None:
    front, refer, other = pictures(make_image)
    for version in ("docs", "domestic"):
        with SimulatorServer(task_seconds=0.2, api_key=TEST_KEY,
                             element_body=version) as server:
            client = Client(api_key=TEST_KEY, base_url=server.url, poll_policy=FAST_POLL,
                            output_dir=tmp_path / "out", element_body=version)
            first = client.create_element("cat", "", front, [refer])
            second = client.create_element("dog", "", front, [other], tags="Animal")
            assert (first.element_id, second.element_id) == (BIG + 1, BIG + 2)
            job = client.generate("cat and dog", model="v3", elements=["cat", "Dog", 5])
            job.wait(20)
            assert list(job.request.elements) == [BIG + 1, BIG + 2, 5]
            task = server.service.tasks[job.task_id]
            assert task.body["element_list"][0] == {"element_id": BIG + 1}
            other_version = "domestic" if version == "docs" else "docs"
            with pytest.raises(APIError, match=f"try element_body='{version}'"):
                client.create_element("eel", "", front, [refer], element_body=other_version)


def test_every_rule_is_refused_before_anything_is_sent(gateway: Gateway, tmp_path: Path,
                                                       make_image) -> None:
    front, refer, other = pictures(make_image)
    small = make_image(200, 400, "PNG", name="small.png")
    thin = make_image(1200, 400, "PNG", name="thin.png")
    gif = make_image(600, 600, "GIF", name="anim.gif")
    client = fake_client(gateway, tmp_path)
    cases: list[tuple[dict[str, object], str]] = [
        ({"name": "x" * 21}, "name is 21 characters; the limit is 20"),
        ({"name": " "}, "name is empty"),
        ({"description": "d" * 101}, "description is 101 characters; the limit is 100"),
        ({"refer_images": []}, "0 refer images; give 1 to 3"),
        ({"refer_images": [refer, other, refer, other]}, "4 refer images"),
        ({"refer_images": [refer, front]}, "refer image 2 .* is the frontal image"),
        ({"refer_images": [front.read_bytes()]}, "refer image 1 .* is the frontal image"),
        ({"frontal_image": small}, "at least 300 px"),
        ({"refer_images": [thin]}, r"outside 1:2\.5 \.\. 2\.5:1"),
        ({"refer_images": [gif]}, "GIF|only .jpg"),
        ({"frontal_image": None}, "frontal image is missing"),
        ({"tags": ["Dragon"]}, "tag 'Dragon' is unknown; choose from: o_101 .Trending Meme."),
        ({"tags": ["o_109"]}, "tag 'o_109' is unknown"),
        ({"element_body": "both"}, "element_body 'both' is not one of: docs, domestic"),
    ]
    for change, match in cases:
        given: dict[str, object] = {"name": "fox", "description": "", "frontal_image": front,
                                    "refer_images": [refer], **change}
        with pytest.raises(ValidationError, match=match) as error:
            client.create_element(**given)  # type: ignore[arg-type]
        assert "\n" not in str(error.value)
    assert gateway.requests == [] and client.journal.elements(made_only=False) == []


def test_tag_names_in_any_case_and_the_budget(gateway: Gateway, tmp_path: Path,
                                              make_image) -> None:
    front, refer, _ = pictures(make_image)
    gateway.quote_cost = "0.10"
    client = fake_client(gateway, tmp_path, max_cost="0.05")
    with pytest.raises(BudgetExceeded, match="the element 'fox' would cost"):
        client.create_element("fox", "", front, [refer], tags=["TRENDING  meme"])
    assert gateway.creates == 0 and gateway.quotes == 1
    client = fake_client(gateway, tmp_path, max_cost="1")
    made = client.create_element("fox", "", front, [refer], tags=["TRENDING  meme"])
    assert made.tags == ("o_101",) and client.session_spend() == made_cost(client)


def made_cost(client: Client) -> object:
    [row] = client.journal.elements()
    from decimal import Decimal

    return Decimal(row["cost"])


def test_unknown_element_name_lists_the_known_ones(gateway: Gateway, tmp_path: Path,
                                                   make_image) -> None:
    front, refer, _ = pictures(make_image)
    client = fake_client(gateway, tmp_path)
    client.create_element("fox", "", front, [refer])
    creates = gateway.creates
    with pytest.raises(ValidationError, match=r"no element named 'owl'.*known elements: fox"):
        client.generate("an owl", model="v3", elements=["owl"])
    assert gateway.creates == creates


def test_journal_version_3_gains_the_elements_table(tmp_path: Path) -> None:
    from kirin_jupyter.storage.journal import SCHEMA_VERSION, Journal

    path = tmp_path / "v3.sqlite3"
    first = Journal(path)
    first.record_host_fact("https://gw.example", "lookup", "yes")
    first.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE elements")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    journal = Journal(path)
    assert journal.elements() == []
    assert journal.host_facts("https://gw.example")["lookup"][0] == "yes"
    journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()


def test_package_face_creates_and_lists_on_the_in_process_simulator(make_image) -> None:
    import kirin_jupyter as kirin

    front = make_image(600, 800, "PNG", name="front.png")
    side = make_image(640, 480, "JPEG", name="side.jpg")
    made = kirin.create_element("owl", "a barn owl", front, [side], tags=["Animal"])
    assert isinstance(made, kirin.Element) and made.element_id == BIG + 1
    assert [e.element_id for e in kirin.elements()] == [BIG + 1]
    job = kirin.generate("an owl at night", model="v3", elements=["owl"])
    job.wait(20)
    assert job.request.body()["element_list"] == [{"element_id": BIG + 1}]
