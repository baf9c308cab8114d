"""Sweeps: every combination of some values, priced and checked whole before the first
create, run as a batch and shown as a static grid labelled by the values.

Real HTTP over loopback to the simulator wherever a service answers.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kirin_jupyter.batches.axes import expand, has_alternatives
from kirin_jupyter.client import Client
from kirin_jupyter.display.sweep_grid import layout, plan_html, sweep_html
from kirin_jupyter.errors import BudgetExceeded, ValidationError
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY


def _client(server: SimulatorServer, tmp_path: Path, **kw: Any) -> Client:
    return Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, **kw)


def _creates(server: SimulatorServer) -> int:
    return sum(server.service.stats()["creates_by_external_id"].values())


class _Grid(HTMLParser):
    """The grid's header labels and its cells (state, number of images)."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[str] = []
        self.rows: list[str] = []
        self.cells: list[dict[str, Any]] = []
        self._in: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "script":
            self.scripts += 1
        if "kirin-sweep-col" in classes:
            self._in = "col"
        elif "kirin-sweep-row" in classes:
            self._in = "row"
        elif "kirin-sweep-cell" in classes:
            self.cells.append({"state": found["data-state"], "images": 0})
        elif tag == "img" and self.cells:
            self.cells[-1]["images"] += 1

    def handle_data(self, data: str) -> None:
        if self._in == "col":
            self.columns.append(data)
        elif self._in == "row":
            self.rows.append(data)
        self._in = None


def _grid(html: str) -> _Grid:
    parser = _Grid()
    parser.feed(html)
    return parser


# -- the plan: alternatives and lists ---------------------------------------------------


def test_prompt_alternatives_expand_into_axes() -> None:
    axes, cells = expand("a {red|blue} fox", {})
    assert [a.name for a in axes] == ["{red|blue}"] and axes[0].labels == ("red", "blue")
    assert [c.prompt for c in cells] == ["a red fox", "a blue fox"]
    axes, cells = expand("a {red|blue} {fox|owl}", {"model": ["omni", "v3"]})
    assert [a.name for a in axes] == ["{red|blue}", "{fox|owl}", "model"]
    assert len(cells) == 8 and cells[3].prompt == "a red owl"
    assert cells[3].options == {"model": "v3"}
    assert cells[3].describe(axes) == "red, owl, model=v3"  # a value names itself
    assert [a.title for a in axes] == ["red / blue", "fox / owl", "model"]
    # nested: one axis of every alternative; an empty alternative is allowed
    axes, cells = expand("a {small|big {red|blue}} fox", {})
    assert axes[0].labels == ("small", "big red", "big blue")
    assert [c.prompt for c in expand("a {|very }big fox", {})[1]] == [
        "a big fox", "a very big fox"]


def test_braces_without_a_bar_stay_as_typed_and_escapes_are_literal() -> None:
    assert not has_alternatives("a {name} fox") and not has_alternatives("{{red|blue}}")
    assert not has_alternatives("a {red fox") and has_alternatives("a {red|blue} fox")
    cells = expand("a {name} {{x}} in {red|blue}", {})[1]
    assert [c.prompt for c in cells] == ["a {name} {{x}} in red", "a {name} {{x}} in blue"]
    cells = expand(r"a \{red|blue\} fox {1|2}", {})[1]
    assert cells[0].prompt == "a {red|blue} fox 1"
    assert [c.prompt for c in expand(r"{red\|pink|blue}", {})[1]] == ["red|pink", "blue"]


def test_lists_of_one_are_fixed_and_list_options_sweep_lists_of_lists() -> None:
    axes, cells = expand("x", {"model": ["omni"], "n": [1, 2], "images": ["a.png", "b.png"]})
    assert [a.name for a in axes] == ["n"] and axes[0].labels == ("n=1", "n=2")
    assert cells[0].options == {"model": "omni", "images": ["a.png", "b.png"], "n": 1}
    axes, _ = expand("x", {"images": [["a.png"], ["b.png", "c.png"]]})
    assert axes[0].labels == ("a.png", "b.png, c.png")
    with pytest.raises(ValidationError, match="'omni' is given twice"):
        expand("x", {"model": ["omni", "kirin_image_omni"]})
    with pytest.raises(ValidationError, match="the sweep has 270 combinations; at most 256"):
        expand("x {a|b|c|d|e|f|g|h|i|j}", {"n": list(range(1, 10)),
                                          "aspect_ratio": ["1:1", "16:9", "4:3"]})
    assert len(expand("x {a|b|c|d|e}", {"n": list(range(1, 10)),
                                       "aspect_ratio": ["1:1", "16:9", "4:3"]})[1]) == 135


def test_grid_layout_rows_and_columns() -> None:
    axes, _ = expand("x", {"model": ["omni", "v3"]})
    assert layout(axes) == ([""], ["omni", "v3"])
    axes, _ = expand("x {a|b}", {"model": ["omni", "v3"], "aspect_ratio": ["1:1", "16:9"]})
    rows, columns = layout(axes)
    assert rows == ["a · omni", "a · v3", "b · omni", "b · v3"] and columns == ["1:1", "16:9"]


# -- running ----------------------------------------------------------------------------


def test_done_when_a_2x2_sweep_makes_4_tasks_and_a_labelled_grid(
        http_client: Client, sim_server: SimulatorServer) -> None:
    sweep = http_client.sweep("a {red|blue} fox", aspect_ratio=["1:1", "16:9"])
    results = sweep.wait(30)
    assert _creates(sim_server) == 4
    assert [r.prompt if r else None for r in results] == [
        "a red fox", "a red fox", "a blue fox", "a blue fox"]
    assert [r.options["aspect_ratio"] if r else None for r in results] == [
        "1:1", "16:9", "1:1", "16:9"]
    ids = [job.external_task_id for job in sweep.jobs if job is not None]
    assert len(set(ids)) == 4 and all(i.startswith(sweep.name) for i in ids)
    assert sweep.axes == {"{red|blue}": ["red", "blue"], "aspect_ratio": ["1:1", "16:9"]}
    assert sweep.cost == sweep.price == sum(r.cost for r in results if r and r.cost)
    html = sweep_html(sweep, final=True)
    grid = _grid(html)
    assert grid.rows == ["red", "blue"] and grid.columns == ["1:1", "16:9"]
    assert [c["images"] for c in grid.cells] == [1, 1, 1, 1]
    assert {c["state"] for c in grid.cells} == {"done"}
    assert grid.scripts == 0 and "tex2jax_ignore" in html and "<input" not in html
    assert "overflow-x:auto" in html  # wide grids scroll in their own box
    assert "$0.04" in html and "cost $0.16 of about $0.16" in html
    # The axes are named by their values, never by the template's braces (issue 22, D6).
    assert "rows: red / blue · columns: aspect ratio" in html and "{red|blue}" not in html
    assert "4 cells over red / blue, aspect ratio: 4 done" in repr(sweep)
    records = sweep.records()
    assert records[1]["{red|blue}"] == "red" and records[1]["aspect_ratio"] == "16:9"


def test_over_budget_sweep_sends_nothing_and_says_total_and_budget(
        sim_server: SimulatorServer, tmp_path: Path) -> None:
    client = _client(sim_server, tmp_path, max_cost="0.10")
    with pytest.raises(BudgetExceeded) as caught:
        client.sweep("a {red|blue} fox", model=["omni", "v3"])  # 4 x $0.04 > $0.10
    message = str(caught.value)
    assert "\n" not in message
    assert "this sweep of 4 jobs would cost $0.16" in message and "max_cost $0.10" in message
    assert _creates(sim_server) == 0
    plan = client.plan_sweep("a {red|blue} fox", model=["omni", "v3"])
    assert plan.total is not None and plan.over_budget and _creates(sim_server) == 0


def test_a_bad_combination_is_one_line_naming_it_and_nothing_is_sent(
        sim_server: SimulatorServer, tmp_path: Path) -> None:
    client = _client(sim_server, tmp_path)
    with pytest.raises(ValidationError) as caught:
        client.sweep("a fox", model=["v3", "omni"], negative_prompt="blurry")
    message = str(caught.value)
    assert message.startswith("sweep cell 2 (model=omni): ") and "\n" not in message
    with pytest.raises(ValidationError, match="nothing to sweep"):
        client.sweep("a fox", model="omni")
    with pytest.raises(ValidationError, match="names its cells itself"):
        client.sweep("a {red|blue} fox", external_task_id="mine")
    assert _creates(sim_server) == 0 and sim_server.service.requests["create"] == 0


def test_plan_is_a_priced_table_and_creates_nothing(http_client: Client,
                                                    sim_server: SimulatorServer) -> None:
    plan = http_client.plan_sweep("a {red|blue} fox", model=["omni", "v3"])
    text = str(plan)
    assert "red / blue" in text and "{red|blue}" not in text
    assert "model" in text and "price" in text
    assert text.count("$0.04") == 4 and "total: about $0.16 (quoted by the service)" in text
    html = plan_html(plan)
    assert html.count("<tr") == 5 and "tex2jax_ignore" in html
    assert _creates(sim_server) == 0


# -- the magic --------------------------------------------------------------------------


def _sim_creates(shell: Any) -> int:
    from kirin_jupyter.shortcuts import default_client

    simulator = default_client().simulator
    assert simulator is not None
    return int(simulator.requests["create"])


def test_magic_comma_lists_run_a_sweep_in_the_order_written(
        shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.user_ns["animal"] = "cat"
    shell.run_cell_magic("kirin", "s --ar 1:1,16:9 --model omni,v3 --wait",
                         "a {animal} on a mat\n")
    sweep = shell.user_ns["s"]
    assert shell.user_ns["_kirin_sweep"] is sweep and sweep.done()
    assert sweep.axes == {"aspect_ratio": ["1:1", "16:9"], "model": ["omni", "v3"]}
    assert [r.prompt for r in sweep.results] == ["a cat on a mat"] * 4
    assert _sim_creates(shell) == 4
    out = capsys.readouterr().out
    assert "4 cells (4 done, 0 failed" in out and "aspect_ratio=16:9, model=v3: $" in out
    grid = _grid(sweep_html(sweep, final=True))
    assert grid.rows == ["1:1", "16:9"] and grid.columns == ["omni", "v3"]


def test_magic_dry_run_prints_the_priced_plan_and_creates_nothing(
        shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("kirin", "--dry-run -n 1,2 --model omni,v3 a {red|blue} fox")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split() == ["#", "red", "/", "blue", "n", "model", "price"]
    assert len([line for line in lines if re.match(r"\d+ ", line)]) == 8
    assert "total: " in out and "for 8 cells" in out and "nothing was created" in out
    assert _sim_creates(shell) == 0


def test_magic_never_splits_a_negative_prompt_and_names_a_bad_combination(
        shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.error import UsageError

    from kirin_jupyter.magics import grammar as magic_options
    from kirin_jupyter.magics import sweep as sweep_magic

    line = '--model v3 --ar 1:1,16:9 --neg "blurry, dark" -i a.png'
    args = magic_options.parse_cell_line(line)
    options = sweep_magic.options_from(args, line, lambda value: value)
    assert options == {"model": "v3", "aspect_ratio": ["1:1", "16:9"],
                       "negative_prompt": "blurry, dark", "images": ["a.png"]}
    with pytest.raises(UsageError) as caught:
        shell.run_cell_magic("kirin", '--model v3,omni --neg "blurry, dark"', "a fox")
    message = str(caught.value)
    assert message.startswith("%%kirin: sweep cell 2 (model=omni): ") and "\n" not in message
    with pytest.raises(UsageError, match="--id cannot be used in a sweep"):
        shell.run_cell_magic("kirin", "--ar 1:1,16:9 --id mine", "a fox")
    with pytest.raises(UsageError, match="an empty value in a comma list"):
        shell.run_cell_magic("kirin", "--ar 1:1,", "a fox")
    assert _sim_creates(shell) == 0


def test_magic_braces_keep_their_meaning_outside_alternatives(
        shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.user_ns["animal"] = "owl"
    shell.run_cell_magic("kirin", "--dry-run", "a {{red|blue}} {animal} {missing}")
    out = capsys.readouterr().out
    assert '"prompt": "a {red|blue} owl {missing}"' in out  # one job, as before
    shell.user_ns["template"] = "a {red|blue} {animal}"
    shell.run_cell_magic("kirin", "--dry-run", "$template")  # a variable's text sweeps
    out = capsys.readouterr().out
    assert "for 2 cells" in out
    assert _sim_creates(shell) == 0


def test_a_failed_cell_shows_in_its_place_and_the_rest_complete(
        http_client: Client, sim_server: SimulatorServer) -> None:
    from kirin_jupyter.simulator.service import Fault

    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095", times=1))
    sweep = http_client.sweep("a kettle", model="omni", aspect_ratio=["1:1", "16:9", "4:3"],
                              concurrency=1)  # one at a time: the first cell fails
    results = sweep.wait(30)
    assert results[0] is None and all(r is not None for r in results[1:])
    assert [index for index, _, _ in sweep.failed] == [0]
    assert sweep.failed[0][1] == "aspect_ratio=1:1"
    html = sweep_html(sweep, final=True)
    grid = _grid(html)
    assert grid.rows == [] and grid.columns == ["1:1", "16:9", "4:3"]  # one axis: one row
    assert [c["state"] for c in grid.cells] == ["failed", "done", "done"]
    assert [c["images"] for c in grid.cells] == [0, 1, 1]
    assert 'role="alert"' in html and 'data-state="some failed"' in html
    live = sweep_html(sweep, final=False)
    assert "<img" not in live and "kirin-sweep-live" in live
    from kirin_jupyter.display.sweep_grid import SweepCard

    card = SweepCard(sweep)  # the live widget: emptied and closed once the sweep is done
    assert "kirin-sweep-live" in card.widget.html
    card.refresh(sweep)
    assert card.widget.html == ""


def test_module_level_sweep_on_the_session_client_and_its_display(shell: Any) -> None:
    import kirin_jupyter

    plan = kirin_jupyter.plan_sweep("a {red|blue} kite")
    assert len(plan) == 2 and _sim_creates(shell) == 0
    sweep = kirin_jupyter.sweep("a {red|blue} kite")  # still the function, not a module
    sweep.wait(30)
    assert isinstance(sweep, kirin_jupyter.Sweep) and _sim_creates(shell) == 2
    formatted, _ = shell.display_formatter.format(sweep)
    assert "kirin-sweep-result" in formatted["text/html"]
    assert _grid(formatted["text/html"]).columns == ["red", "blue"]
    formatted, _ = shell.display_formatter.format(plan)
    assert "kirin-sweep-plan" in formatted["text/html"]


def test_a_cell_names_each_value_once() -> None:
    axes, cells = expand("x {a|b}", {"n": [1, 2], "model": ["omni", "v3"]})
    assert cells[-1].describe(axes) == "b, n=2, model=v3"  # not "n=n=2", nor "{a|b}=b"


def test_magic_bad_image_variable_in_a_sweep_is_one_line_and_sends_nothing(
        shell: Any) -> None:
    from IPython.core.error import UsageError

    for magic, run in (
            ("%%kirin", lambda: shell.run_cell_magic("kirin", "--model omni,v3 --image $nope",
                                                     "a fox")),
            ("%kirin", lambda: shell.run_line_magic("kirin", "--model omni,v3 -i $nope a fox"))):
        with pytest.raises(UsageError) as caught:  # was a ValidationError traceback
            run()
        message = str(caught.value)  # titled by the magic typed (issue 22, D6)
        assert message == f"{magic}: --image $nope: no variable named 'nope'"
    assert _sim_creates(shell) == 0


def test_a_bad_concurrency_is_refused_before_the_price_is_asked(
        sim_server: SimulatorServer, tmp_path: Path) -> None:
    client = _client(sim_server, tmp_path)
    for bad in (0, 1.5, True):
        with pytest.raises(ValidationError, match="concurrency must be a whole number"):
            client.sweep("a {red|blue} fox", concurrency=bad)
    assert sim_server.service.requests["quote"] == 0 and _creates(sim_server) == 0
    sweep = client.sweep("a {red|blue} fox", concurrency=1)
    assert sim_server.service.requests["quote"] == 1
    sweep.wait(30)


def test_an_escaped_brace_stays_literal_when_names_are_filled_afterwards(
        http_client: Client, sim_server: SimulatorServer) -> None:
    from kirin_jupyter.batches.sweep import make_plan
    from kirin_jupyter.magics.prompting import interpolate

    def fill(text: str) -> str:  # as the magic fills {name} after the expansion
        return interpolate(text, {"animal": "cat"})

    plan = make_plan(http_client.batch_services(), r"a \{animal\} {animal} {red|blue\}}", {}, fill=fill)
    assert [r.prompt for r in plan.requests] == ["a {animal} cat red", "a {animal} cat blue}"]
    plan = make_plan(http_client.batch_services(), r"a \{animal\} {red|blue}", {})  # Python: nothing filled
    assert [r.prompt for r in plan.requests] == ["a {animal} red", "a {animal} blue"]
    assert _creates(sim_server) == 0


def test_exploding_groups_are_counted_before_anything_is_expanded() -> None:
    """Nested or many groups are counted from the grammar: refused in milliseconds, with
    no memory spent (they took seconds and gigabytes before)."""
    import time

    many = " ".join("{a|b|c|d}" for _ in range(40))  # 4**40 combinations
    nested = "{" + "|".join("{a|b|c|d|e|f|g|h}" * 8 for _ in range(8)) + "}"  # 8 * 8**8
    for prompt in (many, nested, many + nested):
        started = time.monotonic()
        with pytest.raises(ValidationError, match="more than 256 combinations; at most 256"):
            expand(prompt, {})
        assert time.monotonic() - started < 0.5
    with pytest.raises(ValidationError, match="more than 5 combinations; at most 5"):
        expand("{a|b|c} {d|e|f}", {}, max_cells=5)
    assert len(expand("{a|b|c} {d|e|f}", {}, max_cells=9)[1]) == 9


@pytest.mark.parametrize("prompt, words", [
    ("a {red|blue fox" + "{" * 20000, r"'\{' but"),
    ("a {red|blue} fox}" + "}" * 20000, r"'\}' with no '\{'"),
])
def test_unbalanced_braces_in_a_sweep_are_one_line_at_once(prompt: str, words: str) -> None:
    import time

    started = time.monotonic()
    with pytest.raises(ValidationError, match=words):
        expand(prompt, {})
    assert time.monotonic() - started < 0.5


def test_many_unclosed_braces_are_parsed_in_linear_time() -> None:
    import time

    from kirin_jupyter.batches.axes import has_alternatives

    started = time.monotonic()
    assert not has_alternatives("{" * 50_000 + "a|b")
    assert has_alternatives("{" * 50_000 + "{a|b}")
    assert time.monotonic() - started < 1


def test_a_sweep_asks_one_quote_per_kind_once(sim_server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Planned, checked and started, a sweep of two kinds (1:1, 16:9) asks the service
    for two prices, even with no cache to hide a second round of questions."""
    from kirin_jupyter.client import Client
    from tests.conftest import FAST_POLL, TEST_KEY

    monkeypatch.setattr("kirin_jupyter.money.prices.QUOTE_FRESH_SECONDS", 0.0)
    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, home=tmp_path / "home", max_cost="5")
    sweep = client.sweep("a {red|blue} fox", aspect_ratio=["1:1", "16:9"])
    sweep.wait(60)
    assert sim_server.service.stats()["requests"]["quote"] == 2
    assert sim_server.service.stats()["requests"]["create"] == 4


def test_a_sweep_is_checked_against_the_budget_once(shell: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Planned and started, by the magic or from Python, a sweep of two kinds asks two
    quotes and is checked against ``max_cost`` once (the magic checked it twice: when it
    planned the sweep, then again to start it)."""
    import kirin_jupyter
    from kirin_jupyter.money.budget import Budget
    from kirin_jupyter.shortcuts import default_client

    checks: list[str] = []
    check = Budget.check_batch

    def counted(self: Budget, requests: Any, quotes: Any, *, what: str = "batch") -> None:
        checks.append(what)
        check(self, requests, quotes, what=what)

    monkeypatch.setattr(Budget, "check_batch", counted)
    monkeypatch.setattr("kirin_jupyter.money.prices.QUOTE_FRESH_SECONDS", 0.0)
    shell.run_line_magic("config", "Kirin.max_cost = 5")
    shell.run_cell_magic("kirin", "--ar 1:1,16:9 --wait", "a {red|blue} fox")
    simulator = default_client().simulator
    assert simulator is not None
    assert checks == ["sweep"] and simulator.requests["quote"] == 2
    kirin_jupyter.sweep("a {red|blue} kite", aspect_ratio=["1:1", "16:9"]).wait(60)
    assert checks == ["sweep", "sweep"] and simulator.requests["quote"] == 4
    assert _sim_creates(shell) == 8
