"""Where a finished element task names its id, read exactly (64-bit, never a float)."""

from __future__ import annotations

import json

import pytest

from kirin_jupyter.model.elements import exact_id
from kirin_jupyter.service.element_answers import answer_keys, find_element_id

BIG = 2**53 + 1  # 9007199254740993: a float makes it ...992


@pytest.mark.parametrize("answer", [
    {"output": [{"content": [{"type": "element", "element_id": BIG}]}]},
    {"output": [{"content": [{"type": "element", "id": BIG}]}]},
    {"output": {"content": {"element_id": str(BIG)}}},
    {"element_id": BIG},
    {"data": {"id": "t1", "status": "completed", "element_id": str(BIG)}},
    {"task_result": {"elements": [{"element_id": BIG}]}},
])
def test_the_id_is_found_exactly_in_every_plausible_place(answer: dict[str, object]) -> None:
    parsed = json.loads(json.dumps(answer))  # as the wire gives it
    assert find_element_id(parsed) == BIG


@pytest.mark.parametrize("answer", [
    {"element_id": float(BIG)},  # already lost its last digit: never taken
    {"element_id": 9.007199254740993e15},
    {"element_id": True},
    {"element_id": -4},
    {"element_id": "12a"},
    {"element_id": 2**64},
    {"output": [{"content": [{"id": "job-7"}]}]},  # a job id, not a whole number
    {"task_result": {"elements": [{"id": BIG}]}},
    {"status": "completed"},
    [],
    "text",
])
def test_no_id_is_made_up(answer: object) -> None:
    assert find_element_id(answer) is None


def test_exact_id_takes_digit_strings_without_floats() -> None:
    assert exact_id(" 9007199254740993 ") == BIG and exact_id(str(2**64 - 1)) == 2**64 - 1
    assert exact_id(1.0) is None and exact_id(0) is None


def test_answer_keys_show_one_level_in() -> None:
    keys = answer_keys({"id": "t", "status": "completed", "output": [{"content": []}],
                        "usage": {"cost": "0.1"}})
    assert keys == "id, status, output{content}, usage{cost}"
    assert answer_keys(["a", "b"]).startswith("not an object")
