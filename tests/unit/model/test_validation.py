"""Every documented rule: a clear one-line error, and not a single request sent."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kirin_jupyter import ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.model.request import build_request
from kirin_jupyter.simulator.server import SimulatorServer


def small(width: int = 400, height: int = 400) -> Image.Image:
    return Image.new("RGB", (width, height), (10, 120, 200))


def noise_png(path: Path, side: int = 2000) -> Path:
    """A PNG of random pixels: incompressible, so over 10 MB."""
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, compress_level=1)
    return path


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("empty prompt", {"prompt": ""}, "prompt is empty"),
    ("blank prompt", {"prompt": "  \n "}, "prompt is empty"),
    ("prompt not text", {"prompt": 42}, "prompt must be text"),
    ("prompt too long", {"prompt": "x" * 2501}, "prompt is 2501 characters; the limit is 2500"),
    ("n zero", {"n": 0}, "n is 0; ask for between 1 and 9"),
    ("n ten", {"n": 10}, "n is 10; ask for between 1 and 9"),
    ("n text", {"n": "three"}, "n must be a whole number from 1 to 9"),
    ("n bool", {"n": True}, "n must be a whole number"),
    ("resolution", {"resolution": "4k"},
     "resolution '4k' is not available for kirin_image_omni (4k is for kirin_v3_omni_image); "
     "choose one of: 1k, 2k"),
    ("resolution on v2", {"model": "v2", "resolution": "1k"},
     "kirin_v2_image takes no resolution"),
    ("watermark on v2", {"model": "v2", "watermark": True},
     "kirin_v2_image takes no watermark setting"),
    ("auto on v2", {"model": "v2", "aspect_ratio": "auto"}, "'auto' is only for"),
    ("elements on v2", {"model": "v2", "elements": [7]},
     "kirin_v2_image takes no elements; use kirin_v3_image or kirin_v3_omni_image"),
    ("series on omni", {"series": 4},
     "kirin_image_omni makes no series; use kirin_v3_omni_image"),
    ("series of one", {"model": "v3omni", "series": 1},
     "series must be a whole number from 2 to 9, not 1"),
    ("series of ten", {"model": "v3omni", "series": 10},
     "series must be a whole number from 2 to 9, not 10"),
    ("8k on v3omni", {"model": "v3omni", "resolution": "8k"}, "choose one of: 1k, 2k, 4k"),
    ("aspect ratio", {"aspect_ratio": "5:4"}, "aspect ratio '5:4' is not available"),
    ("auto on v3", {"model": "v3", "aspect_ratio": "auto"},
     "'auto' is only for kirin_image_omni"),
    ("unknown model", {"model": "dalle"}, "unknown model 'dalle'"),
    ("negative on omni", {"negative_prompt": "blur"}, "kirin_image_omni has no negative prompt"),
    ("negative too long", {"model": "v3", "negative_prompt": "y" * 2501},
     "negative prompt is 2501 characters"),
    ("negative with image", {"model": "v3", "negative_prompt": "blur", "images": [small()]},
     "negative prompt is not supported with a reference image"),
    ("v3 two images", {"model": "v3", "images": [small(), small()]},
     "kirin_v3_image takes one reference image; 2 were given"),
    ("omni eleven images", {"images": [small()] * 11}, "11 reference images; at most 10"),
    ("images plus elements", {"model": "v3", "images": [small()], "elements": list(range(10))},
     "1 images + 10 elements = 11; at most 10 in total"),
    ("elements on omni", {"elements": [1]}, "kirin_image_omni takes no elements"),
    ("element not int", {"model": "v3", "elements": [1.5]}, "element id 1.5 is not a whole"),
    ("element name unknown", {"model": "v3", "elements": ["abc"]},
     "no element named 'abc' in the journal"),
    ("placeholder past images", {"prompt": "<<<image_2>>> in snow", "images": [small()]},
     "prompt refers to <<<image_2>>> but only 1 image is given"),
    ("placeholder without images", {"prompt": "<<<image_1>>> in snow"},
     "prompt refers to <<<image_1>>> but only 0 images are given"),
    ("image too narrow", {"images": [small(299, 400)]}, "is 299x400 px; both sides must be at least 300"),
    ("image too wide", {"images": [small(1000, 300)]}, "aspect ratio 1000:300 is outside 1:2.5 .. 2.5:1"),
    ("image too tall", {"images": [small(300, 800)]}, "aspect ratio 300:800 is outside"),
    ("image not an image", {"images": [b"hello, not a picture"]}, "not a readable image"),
    ("empty image", {"images": [""]}, "reference image 1 is empty"),
    ("missing file", {"images": ["no/such/photo.jpg"]}, "image file not found: no/such/photo.jpg"),
    ("webp url", {"images": ["https://example.com/cat.webp"]}, "ends in .webp"),
    ("bad data uri", {"images": ["data:image/png;base64,@@@"]}, "the data URI is not valid base64"),
    ("wrong object", {"images": [3.5]}, "cannot use a float as an image"),
    ("watermark", {"watermark": "yes"}, "watermark must be True or False"),
    ("callback", {"callback_url": "ftp://example.com/hook"}, "callback URL must be an http(s) URL"),
    ("external id", {"external_task_id": "bad\nid"}, "external task id must be 1..255 printable"),
]


@pytest.mark.parametrize(("kwargs", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_gives_clear_error_and_sends_nothing(
    http_client: Client, sim_server: SimulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    options = dict(kwargs)
    prompt = options.pop("prompt", "a red fox")
    with pytest.raises(ValidationError) as caught:
        http_client.generate(prompt, **options)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert sim_server.service.stats()["requests"] == {}


def test_file_rules(make_image: Callable[..., Path], tmp_path: Path, http_client: Client,
                    sim_server: SimulatorServer) -> None:
    webp = make_image(400, 400, "WEBP")
    with pytest.raises(ValidationError, match=r"\.webp: the API accepts only \.jpg, \.jpeg and \.png"):
        http_client.generate("a fox", images=[webp])
    webp_bytes = webp.read_bytes()
    with pytest.raises(ValidationError, match="format WEBP is not accepted"):
        http_client.generate("a fox", images=[webp_bytes])
    big = noise_png(tmp_path / "big.png")
    assert big.stat().st_size > 10 * 1024 * 1024
    with pytest.raises(ValidationError, match=r"file is 1\d\.\d MB; the limit is 10 MB"):
        http_client.generate("a fox", images=[big])
    assert sim_server.service.stats()["requests"] == {}


def test_limits_themselves_are_accepted_by_client_and_simulator(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    """The edges of every range pass, and the simulator (the service's rules) agrees."""
    request = build_request(
        "z" * 2500, model="v3", n=9, resolution="2k", aspect_ratio="21:9",
        images=[small(750, 300)], elements=list(range(9)), watermark=True,
        callback_url="http://127.0.0.1:9/hook", external_task_id="x" * 255,
    )
    assert request.body()["n"] == 9
    job = http_client.generate(
        "<<<image_10>>> with <<<image_1>>>", images=[small(300, 300)] * 9 + [small(300, 750)]
    )
    result = job.wait(20)
    assert len(result.paths) == 1
    assert sim_server.service.stats()["creates_by_external_id"] == {job.external_task_id: 1}


def test_the_request_options_are_defined_once_and_every_door_uses_them() -> None:
    """RequestOptions names the options; the magic has one option per name (plus its own
    --wait, --dry-run, --timeout and --provenance, which is what the files carry, not part
    of the request), and a misspelt keyword is refused, not dropped."""
    from kirin_jupyter.client import Client
    from kirin_jupyter.magics.grammar import OPTIONS, words_for
    from kirin_jupyter.model.request import OPTION_NAMES

    magic_only = {"wait", "dry_run", "timeout", "provenance"}
    assert {o.dest for o in OPTIONS} - magic_only == set(OPTION_NAMES)
    assert words_for("resolution", "2k") == ["--res", "2k"]
    assert words_for("images", ["a.png", "-b.png"]) == ["-i", "a.png", "--image=-b.png"]
    assert words_for("watermark", False) == ["--no-watermark"]
    assert words_for("extra_params", {"result_type": "single", "x": "1"}) == [
        "--param", "result_type=single", "--param", 'x="1"']
    with pytest.raises(ValidationError, match=r"^unknown option 'nn' \(did you mean 'n'\?\)"):
        Client().generate("a fox", nn=3)  # type: ignore[call-arg]
