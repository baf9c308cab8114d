"""Property tests: whatever a user types, the answer is a clear error or a valid request."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import ValidationError
from kirin_jupyter.magics.grammar import OPTIONS, parse_cell_line, parse_line
from kirin_jupyter.magics.prompting import PromptError, prompt_from_cell
from kirin_jupyter.model.request import GenerationRequest, build_request

FLAGS = [flag for opt in OPTIONS for flag in opt.flags]
WORDS = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(["omni", "v3", "1k", "2k", "auto", "16:9", "0", "9", "10", "-1", "$x",
                     "'", '"', "--", "-", "=", "{x}", "<<<image_1>>>"]),
    st.text(min_size=1, max_size=12),
)
LINES = st.lists(WORDS, max_size=10).map(" ".join)

ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 20), st.floats(allow_nan=True),
              st.text(max_size=30), st.binary(max_size=30),
              st.sampled_from(["1k", "2k", "auto", "16:9", "omni", "v3", "https://x.io/a.png",
                               "http://127.0.0.1/hook", "kirin_v3_image"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5),
                                                                         inner, max_size=3)),
    max_leaves=8,
)
PARAMS = ["model", "n", "resolution", "aspect_ratio", "images", "negative_prompt", "elements",
          "watermark", "callback_url", "external_task_id"]


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_magic_lines_parse_or_raise_usage_error(line: str) -> None:
    for parse in (parse_cell_line, parse_line):
        try:
            parse(line)
        except UsageError as exc:
            assert "\n" not in str(exc).strip()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(max_size=60)),
       st.dictionaries(st.sampled_from(PARAMS), ANY_VALUE, max_size=6))
def test_any_parameter_values_validate_or_raise_validation_error(
    prompt: Any, options: dict[str, Any]
) -> None:
    try:
        request = build_request(prompt, **options)
    except ValidationError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(request, GenerationRequest)
        assert 1 <= request.body()["n"] <= 9


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.dictionaries(st.from_regex(r"[a-z_]{1,6}", fullmatch=True),
                                             st.one_of(st.text(max_size=8), st.integers()),
                                             max_size=4))
def test_prompt_interpolation_never_fails_unexpectedly(body: str, ns: dict[str, Any]) -> None:
    with contextlib.suppress(PromptError):
        prompt_from_cell(body, ns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.text(max_size=40))
def test_the_cell_magic_raises_only_usage_errors(line: str, body: str) -> None:
    """The whole magic with --dry-run: random lines never escape as another exception."""
    shell = InteractiveShell.instance()
    if "KirinMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "kirin_jupyter")
    shell.user_ns["x"] = "a variable"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(UsageError):
        shell.run_cell_magic("kirin", line + " --dry-run", body)
