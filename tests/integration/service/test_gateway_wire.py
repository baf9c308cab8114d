"""The wire as the gateway's own clients speak it (issue 21), against the strict fake.

Each test names the fact of ``../shared/api/gateway-facts.md`` it holds: reference images
as ``{"image"}`` objects, the model id in the body and in ``X-Model``, a refused submit,
error bodies read as the clients read them, 403 about the balance, no blind resend, and the
doctor. The fixture also checks that the fake refused nothing the client sent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from kirin_jupyter import (
    AuthenticationError,
    InsufficientBalance,
    OutcomeUnknown,
    SubmitRefused,
)
from kirin_jupyter.client import Client
from kirin_jupyter.service.http import RetryPolicy
from kirin_jupyter.service.responses import parse_error, parse_task
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import PREFIX, Gateway, GatewayServer, Task, completed


def client_for(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, home=tmp_path / "home", **kw)  # type: ignore[arg-type]
    client.api.retry = RetryPolicy(base=0.01, cap=0.05)
    return client


def gets(gateway: Gateway) -> int:
    with gateway.lock:
        return sum(1 for method, path in gateway.requests
                   if method == "GET" and path.startswith(PREFIX + "/task/"))


def _wrapped(model: str, params: dict[str, object]) -> bytes:
    return json.dumps({"model": model, "input": [{"params": params}]}).encode()


# -- 1. image_list items are {"image": ...} objects --------------------------------------

def test_omni_references_travel_as_image_objects(gateway: Gateway, tmp_path: Path,
                                                 make_image) -> None:
    client = client_for(gateway, tmp_path)
    url = "https://images.example.com/cat.png"
    job = client.generate("<<<image_1>>> meets <<<image_2>>>",
                          images=[make_image(600, 400, "JPEG"), url])
    job.wait(20)
    [task] = gateway.tasks.values()
    first, second = task.params["image_list"]
    assert set(first) == {"image"} and not first["image"].startswith(("data:", "http"))
    assert second == {"image": url}
    assert gateway.creates == 1


def test_summary_dry_run_journal_and_record_show_the_object_shape(
    gateway: Gateway, tmp_path: Path, make_image
) -> None:
    client = client_for(gateway, tmp_path)
    request = client.build("<<<image_1>>> as a knight", images=[make_image(600, 400)])
    [named] = request.summary()["image_list"]
    assert set(named) == {"image"} and named["image"].startswith("img_600x400.png sha256:")
    [shown] = request.dry_run_body()["image_list"]
    assert set(shown) == {"image"} and "(base64, " in shown["image"]
    result = client.submit(request).wait(20)
    row = client.journal.get(request.external_task_id)
    assert row is not None
    assert json.loads(row["request"])["image_list"] == [named]
    from kirin_jupyter.storage.file_provenance import read_record

    record = read_record(result.paths[0].read_bytes())
    assert record is not None and record["options"]["image_list"] == [named]
    assert record["references"][0]["label"] == "img_600x400.png"


@pytest.mark.parametrize("bad", [["https://images.example.com/cat.png"],
                                 [{"url": "https://images.example.com/cat.png"}],
                                 [{"image": ""}], "https://images.example.com/cat.png"])
def test_the_fake_and_the_simulator_refuse_other_image_list_shapes(bad: object) -> None:
    body = _wrapped("kirin_image_omni", {"prompt": "<<<image_1>>>", "image_list": bad})
    headers = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
    state = Gateway(TEST_KEY)
    with GatewayServer(state) as server:
        answer = httpx.post(server.url + PREFIX, content=body, headers=headers)
    assert answer.status_code == 400 and state.tasks == {}
    assert state.rejections and "image_list" in state.rejections[0]
    with SimulatorServer(task_seconds=0.2, api_key=TEST_KEY) as sim:
        answer = httpx.post(sim.url + PREFIX, content=body, headers=headers)
        assert answer.status_code == 400 and sim.service.stats()["tasks"] == 0
        assert "image" in answer.json()["error"]["message"]


def test_v3_keeps_one_image_string(gateway: Gateway, tmp_path: Path, make_image) -> None:
    client_for(gateway, tmp_path).generate("winter", model="v3",
                                           images=[make_image(600, 400)]).wait(20)
    [task] = gateway.tasks.values()
    assert isinstance(task.params["image"], str) and "image_list" not in task.params


# -- 7. the model id in the body and as X-Model ---------------------------------------------

def test_the_model_travels_in_the_body_and_as_x_model(gateway: Gateway, tmp_path: Path
                                                      ) -> None:
    client = client_for(gateway, tmp_path)
    client.quote("a fox", model="v3")
    client.generate("a fox", model="v3").wait(20)
    assert gateway.model_headers == ["kirin_v3_image", "kirin_v3_image"]
    [task] = gateway.tasks.values()
    assert task.model == "kirin_v3_image"


def test_the_fake_refuses_an_x_model_that_disagrees_and_takes_a_header_alone() -> None:
    params = {"prompt": "a fox"}
    state = Gateway(TEST_KEY, header_only_model=True)
    with GatewayServer(state) as server:
        base = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
        wrong = httpx.post(server.url + PREFIX, content=_wrapped("kirin_image_omni", params),
                           headers={**base, "X-Model": "kirin_v3_image"})
        alone = httpx.post(server.url + PREFIX,
                           content=json.dumps({"input": [{"params": params}]}).encode(),
                           headers={**base, "X-Model": "kirin_v3_image"})
    assert wrong.status_code == 400 and "disagrees" in state.rejections[0]
    assert alone.status_code == 200 and alone.json()["model"] == "kirin_v3_image"


# -- 2. a refused submit ---------------------------------------------------------------------

def test_a_refused_submit_fails_with_the_services_words_and_is_not_resumable(
    gateway: Gateway, tmp_path: Path
) -> None:
    gateway.create_replies = [(200, {"error": {"code": 1001, "message": "generic words",
                                               "error_message": "prompt blocked by policy"}})]
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(SubmitRefused, match="refused the task: prompt blocked by policy") \
            as caught:
        job.wait(20)
    assert "generic words" not in str(caught.value)
    assert gateway.creates == 1 and gets(gateway) == 0  # no lookups: nothing was created
    row = client.journal.get(job.external_task_id)
    assert row is not None and row["status"] == "failed"
    assert client_for(gateway, tmp_path).resume() == []  # nothing left to follow
    assert gateway.creates == 1 and gets(gateway) == 0


def test_a_busy_answer_in_a_2xx_body_is_still_waited_out(gateway: Gateway, tmp_path: Path
                                                         ) -> None:
    gateway.create_replies = [(200, {"error": {"code": "006001094",
                                               "error_message": "Task resource insufficient"}})]
    client_for(gateway, tmp_path).generate("a fox").wait(20)
    assert gateway.creates == 2 and len(gateway.tasks) == 1


# -- 3. error bodies, as the clients read them -------------------------------------------------

@pytest.mark.parametrize("payload, code, message", [
    ({"error": {"code": 7, "message": "m", "error_message": "em"}}, "7", "em"),
    ({"error": {"code": 7, "message": "m"}}, "7", "m"),
    ({"error": "plain words"}, None, "plain words"),
    ({"error_code": 40203, "message": "insufficient credits"}, "40203", "insufficient credits"),
    ({"status": {"code": 403, "message": "denied", "error_code": 40201}}, "40201", "denied"),
    ({"detail": "Not authenticated"}, None, "Not authenticated"),
    ({"detail": [{"loc": ["body", "n"], "msg": "bad"}]}, None,
     '[{"loc":["body","n"],"msg":"bad"}]'),
    ({"message": "m", "error_message": "em"}, None, "em"),
])
def test_error_bodies_in_every_shape_the_clients_read(payload: object, code: str | None,
                                                      message: str) -> None:
    assert parse_error(payload) == (code, message)


def test_a_content_id_or_img_id_is_the_items_job_id() -> None:
    snapshot = parse_task({"id": "t1", "status": "completed", "output": [{"content": [
        {"type": "image", "url": "https://cdn/1.png", "id": "job-1"},
        {"type": "image", "url": "https://cdn/2.png", "img_id": "job-2"},
        {"type": "image", "url": "https://cdn/3.png", "jobId": "job-3"}]}]})
    assert [item.job_id for item in snapshot.items] == ["job-1", "job-2", "job-3"]


def test_a_result_whose_items_carry_cli_style_ids_is_delivered(gateway: Gateway,
                                                                tmp_path: Path) -> None:
    def cli_style(task: Task) -> dict[str, object]:
        answer = completed(task)
        for index, item in enumerate(answer["output"][0]["content"]):
            item.pop("jobId")
            item["id" if index % 2 else "img_id"] = f"{task.id}-{index}"
        return answer

    gateway.final = cli_style
    result = client_for(gateway, tmp_path).generate("a fox", n=2).wait(20)
    assert len(result.paths) == 2 and all(path.is_file() for path in result.paths)


def test_a_detail_body_reaches_the_user(gateway: Gateway, tmp_path: Path) -> None:
    gateway.create_replies = [(400, {"detail": "n must be an integer"})]
    job = client_for(gateway, tmp_path).generate("a fox")
    with pytest.raises(Exception, match="HTTP 400: n must be an integer"):
        job.wait(20)
    assert gateway.tasks == {}


# -- 4. a 403 is not always a bad key --------------------------------------------------------

@pytest.mark.parametrize("status, body", [
    (403, {"error": {"code": 403, "error_message": "Insufficient balance"}}),
    (403, {"error_code": 40205, "message": "forbidden"}),
    (403, {"status": {"code": 403, "message": "insufficient credits", "error_code": 1}}),
    (402, {}),
    (200, {"error": {"code": 40202, "error_message": "account in arrears"}}),  # refused submit
])
def test_a_balance_error_says_top_up_never_set_the_key(gateway: Gateway, tmp_path: Path,
                                                       status: int, body: dict) -> None:
    gateway.create_replies = [(status, body)]
    job = client_for(gateway, tmp_path).generate("a fox")
    with pytest.raises(InsufficientBalance, match="top up your account") as caught:
        job.wait(20)
    assert "KIRIN_API_KEY" not in str(caught.value) and "login" not in str(caught.value)
    assert gateway.creates == 1 and gets(gateway) == 0 and gateway.tasks == {}


def test_a_bare_403_names_both_causes(gateway: Gateway, tmp_path: Path) -> None:
    gateway.create_replies = [(403, {})]
    job = client_for(gateway, tmp_path).generate("a fox")
    with pytest.raises(AuthenticationError, match=r"key is not allowed .*KIRIN_API_KEY.*"
                       r"balance is too low"):
        job.wait(20)


def test_a_401_is_still_the_key(tmp_path: Path) -> None:
    state = Gateway("another-key")
    with GatewayServer(state):
        job = client_for(state, tmp_path).generate("a fox")
        with pytest.raises(AuthenticationError, match=r"refused the key .*set KIRIN_API_KEY"):
            job.wait(20)


# -- 5. no blind resend ----------------------------------------------------------------------

def _wait_for_proof(client: Client) -> None:
    deadline = time.monotonic() + 10
    while client.api.facts.get("lookup_by_external_id") is None and \
            time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_lost_answer_where_the_lookup_answers_404_makes_exactly_one_create(
    gateway: Gateway, tmp_path: Path
) -> None:
    gateway.lookup_by_external = False
    client = client_for(gateway, tmp_path)
    client.generate("a first fox").wait(20)  # proves nothing: the lookup answers 404
    _wait_for_proof(client)
    assert client.api.facts.get("lookup_by_external_id") == "no"
    assert not client.api.facts.lookup_proven
    before = gateway.creates
    gateway.lose_create_answers = 1
    job = client.generate("a fox whose answer is lost")
    with pytest.raises(OutcomeUnknown, match="not been seen to work"):
        job.wait(30)
    assert gateway.creates - before == 1 and len(gateway.tasks) == 2
    row = client.journal.get(job.external_task_id)
    assert row is not None and row["status"] == "interrupted"  # still resumable


def test_a_lost_answer_where_the_lookup_works_is_delivered_with_one_create(
    gateway: Gateway, tmp_path: Path
) -> None:
    gateway.lose_create_answers = 1
    client = client_for(gateway, tmp_path)  # nothing proven yet: the lookup finds it anyway
    result = client.generate("a fox whose answer is lost").wait(30)
    assert gateway.creates == 1 and len(gateway.tasks) == 1
    assert result.task_id == next(iter(gateway.tasks))
    assert client.api.facts.lookup_proven  # seen working: kept for this host


def test_the_lookup_proof_is_kept_per_host_in_the_journal(gateway: Gateway, tmp_path: Path
                                                          ) -> None:
    client = client_for(gateway, tmp_path)
    client.generate("a fox").wait(20)
    _wait_for_proof(client)
    assert client.api.facts.lookup_proven
    assert client.journal.host_facts(gateway.url)["lookup_by_external_id"][0] == "yes"
    again = client_for(gateway, tmp_path)  # a new kernel: read from the journal
    assert again.api.facts.lookup_proven
    with gateway.lock:
        start = len(gateway.requests)
    again.generate("another fox").wait(20)
    time.sleep(0.2)
    with gateway.lock:  # no second proof: the GETs are the new task's own polls
        asked = [path.rsplit("/", 1)[1] for method, path in gateway.requests[start:]
                 if method == "GET" and path.startswith(PREFIX + "/task/")]
    assert asked and set(asked) == {"gw-0002"}


# -- 10. the doctor ----------------------------------------------------------------------

def _answers(report: dict) -> dict[str, str]:
    return {name: row["answer"] for name, row in report["checks"].items()}


def test_the_doctor_on_the_strict_fake_creates_nothing(gateway: Gateway, tmp_path: Path
                                                       ) -> None:
    client = client_for(gateway, tmp_path)
    report = client.doctor()
    assert report["host"] == gateway.url
    assert _answers(report) == {"host_answers": "yes", "key_accepted": "yes",
                                "precharge_route": "yes", "quote_currency": "USD",
                                "model_header_only": "no",
                                "lookup_by_external_id": "unknown"}
    assert gateway.tasks == {} and gateway.creates == 0
    gateway.rejections.clear()  # the header-only question was refused, as it should be
    facts = client.journal.host_facts(gateway.url)
    assert facts["precharge_route"][0] == "yes" and facts["model_header_only"][0] == "no"


def test_the_doctor_on_a_header_only_gateway(tmp_path: Path) -> None:
    state = Gateway(TEST_KEY, header_only_model=True)
    with GatewayServer(state):
        report = client_for(state, tmp_path).doctor()
    assert _answers(report)["model_header_only"] == "yes" and state.rejections == []


def test_the_doctor_without_a_precharge_route_and_the_client_then_estimates(
    tmp_path: Path
) -> None:
    state = Gateway(TEST_KEY, precharge=404)
    with GatewayServer(state):
        report = client_for(state, tmp_path).doctor()
        assert _answers(report)["precharge_route"] == "no"
        assert "quote_currency" not in report["checks"]
        asked = state.quotes
        fresh = client_for(state, tmp_path)  # reads the doctor's answer from the journal
        assert fresh.quote("a fox").source == "unknown" and state.quotes == asked


def test_the_doctor_with_a_refused_key(tmp_path: Path) -> None:
    state = Gateway("another-key")
    with GatewayServer(state):
        report = client_for(state, tmp_path).doctor()
    assert _answers(report) == {"host_answers": "yes", "key_accepted": "no"}
    assert TEST_KEY not in json.dumps(report)


def test_the_doctor_after_a_job_knows_the_lookup(gateway: Gateway, tmp_path: Path) -> None:
    client = client_for(gateway, tmp_path)
    client.generate("a fox").wait(20)
    _wait_for_proof(client)
    assert _answers(client.doctor())["lookup_by_external_id"] == "yes"
    gateway.rejections.clear()


def test_the_doctor_on_the_simulator(tmp_path: Path) -> None:
    client = Client(home=tmp_path / "home", output_dir=tmp_path / "out")
    report = client.doctor()
    answers = _answers(report)
    assert answers["host_answers"] == "yes" and answers["key_accepted"] == "yes"
    assert answers["precharge_route"] == "yes" and answers["quote_currency"] == "USD"
    assert report["host"] == "built-in simulator"
    assert client.simulator is not None and client.simulator.stats()["tasks"] == 0


def test_the_doctor_when_the_host_does_not_answer(tmp_path: Path) -> None:
    client = Client(api_key=TEST_KEY, base_url="http://127.0.0.1:9", home=tmp_path)
    report = client.doctor()
    assert _answers(report) == {"host_answers": "no"}
