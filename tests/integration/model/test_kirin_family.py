"""The whole Kirin image family (issue 25, items 2, 3, 4 and 6): kirin_v3_omni_image (4k, a
series, elements beside images) and kirin_v2_image (no resolution, watermark or
elements) on the wire as the strict fake and the simulator take them; their invalid
combinations refused before anything is sent; and a fourth, made-up model added to the
model table alone reaching the magic, its help, validation, the panel, ``%kirin models``,
the simulator and the strict fake."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.model import spec
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway


def client_for(gateway: Gateway, tmp_path: Path) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, home=tmp_path / "home")


def test_a_v3_omni_4k_series_with_an_image_and_an_element_passes_the_strict_fake(
        gateway: Gateway, tmp_path: Path, make_image: Any) -> None:
    client = client_for(gateway, tmp_path)
    job = client.generate("<<<image_1>>> in six seasons", model="v3omni", resolution="4k",
                          series=6, n=2, images=[make_image(600, 400)],
                          elements=[2**53 + 1])
    result = job.wait(30)
    [task] = gateway.tasks.values()
    params = task.params
    assert task.model == spec.V3_OMNI
    assert params["resolution"] == "4k"
    assert params["result_type"] == "series" and params["series_amount"] == 6
    assert params["element_list"] == [{"element_id": 2**53 + 1}]  # exact, not a float
    assert [set(item) for item in params["image_list"]] == [{"image"}]
    assert len(result.paths) == 6  # the series's size; n = 2 is ignored
    card = job._repr_html_() or ""
    assert "series of 6 · n ignored" in card


def test_a_v2_request_sends_no_resolution_watermark_or_elements(
        gateway: Gateway, tmp_path: Path, make_image: Any) -> None:
    client = client_for(gateway, tmp_path)
    job = client.generate("a red kettle", model="v2", n=3, negative_prompt="blurry")
    assert len(job.wait(30).paths) == 3
    image_job = client.generate("the kettle, in blue", model="v2",
                                images=[make_image(500, 500)])
    image_job.wait(30)
    first, second = (task.params for task in gateway.tasks.values())
    assert set(first) == {"prompt", "n", "aspect_ratio", "negative_prompt",
                          "external_task_id"}
    assert first["aspect_ratio"] == "16:9"  # v2's default; it has no auto
    assert isinstance(second["image"], str)


@pytest.mark.parametrize(("options", "message"), [
    ({"model": "v2", "resolution": "2k"}, "kirin_v2_image takes no resolution"),
    ({"model": "v2", "watermark": False}, "kirin_v2_image takes no watermark setting"),
    ({"model": "v2", "elements": [5]}, "kirin_v2_image takes no elements"),
    ({"model": "v2", "aspect_ratio": "auto"}, "'auto' is only for"),
    ({"model": "v3omni", "series": 10}, "series must be a whole number from 2 to 9"),
    ({"model": "v3omni", "series": 1}, "series must be a whole number from 2 to 9"),
    ({"model": "v3", "series": 4}, "kirin_v3_image makes no series"),
    ({"model": "v3", "resolution": "4k"}, "4k is for kirin_v3_omni_image"),
    ({"model": "v3omni", "elements": list(range(10)), "images": ["https://x.example/a.png"]},
     "at most 10 in total"),
])
def test_invalid_combinations_are_refused_before_anything_is_sent(
        gateway: Gateway, tmp_path: Path, options: dict[str, Any], message: str) -> None:
    client = client_for(gateway, tmp_path)
    with pytest.raises(ValidationError) as caught:
        client.generate("a fox", **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert gateway.requests == []


def _post(server: SimulatorServer, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"model": params.pop("model"), "input": [{"params": params}]}).encode()
    request = urllib.request.Request(f"{server.url}/model/v1/generation", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {TEST_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


@pytest.mark.parametrize(("params", "problem"), [
    ({"model": spec.V2, "prompt": "a fox", "resolution": "1k"},
     "kirin_v2_image takes no resolution"),
    ({"model": spec.V2, "prompt": "a fox", "watermark_info": {"enabled": True}},
     "kirin_v2_image takes no watermark_info"),
    ({"model": spec.V3_OMNI, "prompt": "a fox", "result_type": "series"},
     "series_amount must be a whole number from 2 to 9"),
    ({"model": spec.V3_OMNI, "prompt": "a fox", "result_type": "series",
      "series_amount": 12}, "series_amount must be a whole number from 2 to 9"),
    ({"model": spec.V3_OMNI, "prompt": "a fox", "resolution": "8k"}, "invalid resolution"),
])
def test_the_simulator_refuses_what_the_service_would(sim_server: SimulatorServer,
                                                      params: dict[str, Any],
                                                      problem: str) -> None:
    status, answer = _post(sim_server, dict(params))
    assert status == 400 and problem in json.dumps(answer)
    assert sim_server.service.stats()["tasks"] == 0


def test_the_simulator_makes_a_series_and_a_v2_picture(http_client: Client) -> None:
    series = http_client.generate("a lighthouse through the year", model="v3omni",
                                  series=3, resolution="2k").wait(30)
    assert len(series.paths) == 3
    plain = http_client.generate("a kettle", model="v2").wait(30)
    assert len(plain.paths) == 1 and plain.images[0].size[0] == 1024  # 16:9, no 2k


def test_the_magic_takes_series_and_the_panel_offers_it(shell: InteractiveShell) -> None:
    shell.run_line_magic("load_ext", "kirin_jupyter")
    shell.run_cell("%%kirin job -m v3omni --series 4 --res 4k --wait\na fox, four seasons")
    job = shell.user_ns["job"]
    assert job.request.series == 4 and len(job.wait(30).paths) == 4
    from kirin_jupyter.panel import Panel

    panel = Panel(namespace={})
    options = panel.options
    options.model.value = spec.V3_OMNI
    assert list(options.resolution.options) == ["1k", "2k", "4k"]
    assert [v for _, v in options.series.options] == [0, *range(2, 10)]
    options.series.value = 5
    options.prompt.value = "a fox"
    code = panel.show_code()  # copy as code: the cell that makes this request
    assert code is not None and "--series 5" in code and "-m v3omni" in code
    assert "--res 1k" in code
    options.model.value = spec.V2
    assert options.resolution_field.layout.display == "none"
    assert options.watermark_field.layout.display == "none"
    assert options.series_field.layout.display == "none"


FOURTH = spec.ModelSpec(
    name="kirin_test_image", alias="tst",
    description="A made-up model, added in one place: every surface must know it.",
    aspect_ratios=("1:1", "5:4"), default_aspect_ratio="5:4", max_images=2,
    supports_negative_prompt=False, supports_elements=False,
    supports_image_placeholders=True, image_field="image_list", error_codes={},
    resolutions=("1k", "3k"), supports_watermark=False,
)


def test_a_fourth_model_added_to_the_table_alone_is_known_everywhere(
        monkeypatch: pytest.MonkeyPatch, shell: InteractiveShell, gateway: Gateway,
        sim_server: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(spec.MODELS, FOURTH.name, FOURTH)  # the one place
    # validation follows its entry
    with pytest.raises(ValidationError, match="choose one of: 1k, 3k"):
        client_for(gateway, tmp_path).generate("a fox", model="tst", resolution="2k")
    with pytest.raises(ValidationError, match="takes no watermark"):
        client_for(gateway, tmp_path).generate("a fox", model="tst", watermark=True)
    # the strict fake and the simulator take a job of it
    done = client_for(gateway, tmp_path).generate("a fox", model="tst", resolution="3k")
    assert len(done.wait(30).paths) == 1
    [task] = gateway.tasks.values()
    assert task.model == "kirin_test_image" and task.params["aspect_ratio"] == "5:4"
    simulated = Client(api_key=TEST_KEY, base_url=sim_server.url, home=tmp_path / "h2",
                       output_dir=tmp_path / "o2").generate("a fox", model="tst")
    assert len(simulated.wait(30).paths) == 1
    # the magic, its help and %kirin models
    shell.run_line_magic("load_ext", "kirin_jupyter")
    shell.run_cell("%%kirin --dry-run -m tst\na fox")
    shown = capsys.readouterr().out
    assert '"model": "kirin_test_image"' in shown
    shell.run_line_magic("kirin", "help")
    assert "kirin_test_image (tst)" in capsys.readouterr().out
    from kirin_jupyter.display.models import ModelsView

    assert "kirin_test_image" in ModelsView()._repr_mimebundle_()["text/html"]
    # the panel's model menu and its controls
    from kirin_jupyter.panel import Panel

    panel = Panel(namespace={})
    assert FOURTH.name in [value for _, value in panel.options.model.options]
    panel.options.model.value = FOURTH.name
    assert list(panel.options.resolution.options) == ["1k", "3k"]
    assert panel.options.watermark_field.layout.display == "none"
    assert [v for _, v in panel.options.aspect_ratio.options] == ["1:1", "5:4"]
    assert dataclasses.asdict(FOURTH)["alias"] == "tst"
