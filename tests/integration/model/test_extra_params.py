"""Fields the pages do not list (issue 21, item 8): ``extra_params={...}`` and
``--param KEY=VALUE`` send them inside ``params`` as given, never over a documented field,
and every place that keeps a request's options keeps them too."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import ValidationError
from kirin_jupyter.batches.items import items_from_file
from kirin_jupyter.client import Client
from kirin_jupyter.display.provenance_views import RecordView
from kirin_jupyter.display.static import option_chips
from kirin_jupyter.magics.grammar import parse_cell_line, parse_line, words_for
from kirin_jupyter.model.provenance_record import options_from_record
from kirin_jupyter.model.request import build_request, request_from_summary
from kirin_jupyter.panel.codegen import cell_for
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.file_provenance import provenance
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer

# Values of every JSON kind, and text that would read as JSON if written bare.
TRICKY: dict[str, Any] = {
    "result_type": "single", "image_fidelity": 0.5, "human_fidelity": 1, "flag": True,
    "nothing": None, "as_text": "true", "number_text": "7", "spaced": "two words",
    "nested": {"a": [1, "b", {"c": False}]}, "empty": "",
}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(TEST_KEY)
    with GatewayServer(state):
        yield state
    assert state.rejections == []  # every extra param it was sent is one it accepts


def magic_client(shell: InteractiveShell) -> Client:
    client: Client = shell.magics_manager.registry["KirinMagics"].client()
    return client


# -- validation: one line, nothing sent ----------------------------------------------------

REFUSED: list[tuple[str, dict[str, Any], Any, str]] = [
    ("n", {}, {"n": 2}, "extra param 'n' would override a documented field, which has its "
     "own checked option: use n= instead (-n on the magic line)"),
    ("prompt", {}, {"prompt": "x"}, "extra param 'prompt' would override a documented field"),
    ("model", {}, {"model": "v3"}, "use model= instead (-m on the magic line)"),
    ("image_list", {}, {"image_list": [{"image": "https://example.com/a.png"}]},
     "use images= instead (-i on the magic line)"),
    ("image on omni", {}, {"image": "https://example.com/a.png"}, "use images= instead"),
    ("image on v3", {"model": "v3"}, {"image": "https://example.com/a.png"},
     "use images= instead"),
    ("element_list on v3", {"model": "v3"}, {"element_list": [{"element_id": 1}]},
     "use elements= instead (-e on the magic line)"),
    ("negative_prompt", {"model": "v3"}, {"negative_prompt": "blur"},
     "use negative_prompt= instead (--neg on the magic line)"),
    ("watermark_info", {}, {"watermark_info": {"enabled": True}},
     "use watermark= instead (--watermark on the magic line)"),
    ("resolution", {}, {"resolution": "2k"}, "use resolution= instead (--res"),
    ("aspect_ratio", {}, {"aspect_ratio": "1:1"}, "use aspect_ratio= instead (--ar"),
    ("callback_url", {}, {"callback_url": "https://example.com/hook"},
     "use callback_url= instead (--callback-url"),
    ("external_task_id", {}, {"external_task_id": "mine"},
     "use external_task_id= instead (--id"),
    ("empty key", {}, {"": 1}, "extra param names must be non-empty text, not ''"),
    ("blank key", {}, {"  ": 1}, "extra param names must be non-empty text, not '  '"),
    ("key not text", {}, {3: 1}, "extra param names must be non-empty text, not 3"),
    ("a set", {}, {"x": {1, 2}}, "extra param 'x' cannot be sent as JSON (Object of type "
     "set is not JSON serializable)"),
    ("nan", {}, {"x": float("nan")}, "extra param 'x' cannot be sent as JSON"),
    ("an object", {}, {"x": object()}, "extra param 'x' cannot be sent as JSON"),
    ("a lone surrogate", {}, {"x": "\ud800"}, "extra param 'x' cannot be sent as JSON"),
    ("not a dict", {}, [("result_type", "single")],
     "extra_params must be a dict of field names to JSON values, not list"),
    ("text", {}, "result_type=single", "extra_params must be a dict"),
]


@pytest.mark.parametrize(("options", "extra", "message"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_a_bad_extra_param_is_one_line_and_sends_nothing(
    http_client: Client, sim_server: SimulatorServer, options: dict[str, Any], extra: Any,
    message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        http_client.generate("a red fox", extra_params=extra, **options)
    text = str(caught.value)
    assert message in text and "\n" not in text
    with pytest.raises(ValidationError, match="extra"):
        http_client.quote("a red fox", extra_params=extra, **options)
    assert sim_server.service.stats()["requests"] == {}


def test_omni_may_send_element_list_which_its_pages_do_not_list(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    """element_list is documented for v3 only: for omni it is a hinted field like any
    other, sent as given (the simulator, like the gateway, takes it as any JSON)."""
    elements = [{"element_id": 5}, "whatever shape the service wants"]
    result = http_client.generate("a fox", extra_params={"element_list": elements}).wait(20)
    assert sim_server.service.tasks[result.task_id].body["element_list"] == elements
    assert result.paths[0].is_file()


def test_the_callers_dict_is_copied_and_sent_as_json(http_client: Client,
                                                     sim_server: SimulatorServer) -> None:
    given: dict[str, Any] = {"result_type": "single", "shape": (1, 2)}
    request = http_client.build("a fox", extra_params=given)
    given["result_type"] = "changed later"  # the request keeps what was asked
    assert request.extra_params == {"result_type": "single", "shape": [1, 2]}
    result = http_client.submit(request).wait(20)
    body = sim_server.service.tasks[result.task_id].body
    assert body["result_type"] == "single" and body["shape"] == [1, 2]


# -- the strict gateway fake ----------------------------------------------------------------

@pytest.mark.parametrize(("model", "extra"), [
    ("kirin_image_omni", {"result_type": "single"}),
    ("kirin_image_omni", {"element_list": [{"element_id": 5}]}),
    ("kirin_v3_image", {"image_fidelity": 0.5}),
    ("kirin_v3_image", {"image_reference": "subject", "human_fidelity": 0.25}),
])
def test_extra_params_arrive_inside_params_exactly(gateway: Gateway, tmp_path: Path,
                                                   model: str, extra: dict[str, Any]) -> None:
    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL)
    job = client.generate("a red fox", model=model, extra_params=extra)
    result = job.wait(20)
    [task] = gateway.tasks.values()
    assert task.model == model and result.task_id == task.id
    assert {key: task.params[key] for key in extra} == extra
    for key, value in extra.items():  # the type too: 0.5 stays a float, 5 an int
        assert type(task.params[key]) is type(value)
    assert task.params["prompt"] == "a red fox"  # beside the documented ones, not instead
    assert "extra_params" not in task.params
    assert gateway.creates == 1


# -- the magic line -------------------------------------------------------------------------

def test_param_reads_json_when_it_parses_and_text_otherwise() -> None:
    args, prompt = parse_line(
        "--param result_type=single --param image_fidelity=0.5 --param 'list=[1, \"a\"]' "
        "--param flag=true --param 'quoted=\"7\"' --param 'two=a b' --param empty= "
        "--param eq=a=b a red fox")
    assert prompt == "a red fox"
    assert args.extra_params == {"result_type": "single", "image_fidelity": 0.5,
                                 "list": [1, "a"], "flag": True, "quoted": "7",
                                 "two": "a b", "empty": "", "eq": "a=b"}
    assert parse_line("-n 2 a fox")[0].extra_params is None
    cell_args = parse_cell_line("pic --param=result_type=single -m omni")
    assert cell_args.var == "pic" and cell_args.extra_params == {"result_type": "single"}


@pytest.mark.parametrize(("line", "message"), [
    ("--param foo a fox", "%kirin: argument --param: expected KEY=VALUE, not 'foo'"),
    ("--param =1 a fox", "expected KEY=VALUE, not '=1'"),
    ("--param a=1 --param a=2 a fox", "argument --param: 'a' is given twice"),
    ("--param n=2 a fox", "%kirin: extra param 'n' would override a documented field, which "
     "has its own checked option: use n= instead (-n on the magic line)"),
    ("-m v3 --param element_list=[1] a fox", "use elements= instead (-e on the magic line)"),
    ("a fox --param x=1", "--param comes after the prompt"),
])
def test_a_bad_param_is_a_one_line_usage_error_and_sends_nothing(
    shell: InteractiveShell, line: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("kirin", line)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert "_kirin" not in shell.user_ns
    assert magic_client(shell).simulator.stats()["requests"] == {}


def test_param_on_the_magic_line_is_sent(shell: InteractiveShell) -> None:
    shell.run_cell_magic("kirin", "pic -m v3 --param image_fidelity=0.5 "
                         "--param image_reference=subject --wait", "a fox")
    job = shell.user_ns["pic"]
    assert job.status == "completed"
    body = magic_client(shell).simulator.tasks[job.task_id].body
    assert body["image_fidelity"] == 0.5 and body["image_reference"] == "subject"


def test_dry_run_marks_extra_params_as_not_checked(shell: InteractiveShell, capsys) -> None:
    shell.run_cell_magic("kirin", "--dry-run --param result_type=single "
                         "--param 'element_list=[{\"element_id\": 5}]'", "a fox")
    out = capsys.readouterr().out
    params = json.loads(out[out.index("{"):out.rindex("}") + 1])["input"][0]["params"]
    assert params["result_type"] == "single"
    assert params["element_list"] == [{"element_id": 5}]
    assert ("extra params, sent inside params as given, not checked by kirin-jupyter: "
            "result_type, element_list\n") in out
    assert magic_client(shell).simulator.stats()["requests"] == {"quote": 1}
    shell.run_cell_magic("kirin", "--dry-run", "a fox")  # none: no such line
    assert "not checked by kirin-jupyter" not in capsys.readouterr().out


def test_batch_and_sweep_dry_runs_mark_them_too(shell: InteractiveShell, tmp_path: Path,
                                                capsys) -> None:
    csv = tmp_path / "items.csv"
    csv.write_text('prompt,extra_params\na fox,"{""result_type"": ""single""}"\nan owl,\n',
                   encoding="utf-8")
    shell.run_line_magic("kirin", f"batch {csv} --dry-run --param seed_hint=3")
    out = capsys.readouterr().out
    assert "batch of 2 prompts" in out
    assert "not checked by kirin-jupyter: result_type, seed_hint\n" in out
    shell.run_line_magic("kirin", "--dry-run -m v3 --param image_fidelity=0.5 -n 1,2 a fox")
    out = capsys.readouterr().out
    assert "Kirin sweep plan" in out
    assert "not checked by kirin-jupyter: image_fidelity\n" in out
    assert set(magic_client(shell).simulator.stats()["requests"]) <= {"quote"}  # no create


def test_a_batch_csv_column_holds_a_json_object(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text('prompt,extra_params\na fox,"{""image_fidelity"": 0.5}"\n',
                    encoding="utf-8")
    assert items_from_file(good) == [{"prompt": "a fox",
                                      "extra_params": {"image_fidelity": 0.5}}]
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,extra_params\na fox,result_type=single\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"^line 2: extra_params must be a JSON object, "
                                              r"not 'result_type=single'$"):
        items_from_file(bad)


def test_a_sweep_takes_a_list_of_dicts_as_an_axis() -> None:
    plan = Client().plan_sweep("a fox", model="v3", extra_params=[{"image_fidelity": 0.3},
                                                                   {"image_fidelity": 0.7}])
    assert [r.extra_params for r in plan.requests] == [{"image_fidelity": 0.3},
                                                        {"image_fidelity": 0.7}]
    assert [axis.labels for axis in plan.axes] == [("image_fidelity=0.3",
                                                    "image_fidelity=0.7")]


# -- journal, record, copy-as-code ----------------------------------------------------------

def test_journal_resume_record_and_copy_as_code_keep_them(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    client = magic_client(shell)
    job = client.generate("a fox in snow", model="v3", extra_params=TRICKY)
    result = job.wait(20)
    assert client.simulator.tasks[result.task_id].body["as_text"] == "true"

    # The journal: the summary keeps them apart, and resume rebuilds the same body.
    row = client.journal.get(job.external_task_id)
    assert row is not None
    summary = json.loads(row["request"])
    assert summary["extra_params"] == TRICKY and "result_type" not in summary
    rebuilt = request_from_summary(summary, job.external_task_id)
    assert rebuilt.extra_params == TRICKY and rebuilt.body() == job.request.body()

    # The record inside the file, read back; the card's chip.
    record = provenance(result.paths[0])
    assert record["options"]["extra_params"] == TRICKY
    assert options_from_record(record)["extra_params"] == TRICKY
    text = RecordView(record, result.paths[0]).text()
    assert 'result_type="single"' in text and "(not checked by kirin-jupyter)" in text
    assert ">10 extra params<" in option_chips(job.request.options)

    # Copy as code: the %%kirin cell gives the same extra params back, as typed.
    cell = cell_for(job.request, [], tmp_path)
    line, prompt = cell.split("\n", 1)
    assert "--param result_type=single" in line and "--param 'as_text=\"true\"'" in line
    assert parse_cell_line(line.removeprefix("%%kirin ")).extra_params == TRICKY
    shell.run_cell_magic("kirin", line.removeprefix("%%kirin ") + " again --wait", prompt)
    again = shell.user_ns["again"]
    assert again.request.extra_params == TRICKY
    assert client.simulator.tasks[again.task_id].body["number_text"] == "7"


def test_rerun_from_a_file_keeps_them(shell: InteractiveShell, capsys) -> None:
    shell.run_cell_magic("kirin", "first --param result_type=single --wait", "a fox")
    path = shell.user_ns["first"].result.paths[0]
    capsys.readouterr()
    shell.run_line_magic("kirin", f"rerun {path} --dry-run")
    out = capsys.readouterr().out
    assert '"result_type": "single"' in out and "not checked by kirin-jupyter" in out
    shell.run_line_magic("kirin", f"rerun {path} --param result_type=multiple --dry-run")
    assert '"result_type": "multiple"' in capsys.readouterr().out  # the line wins


def test_words_for_writes_what_the_parser_reads_back() -> None:
    extra = {"-dash": "x", "json_looking": "[1]", "real_list": [1], "text": "plain"}
    words = words_for("extra_params", extra)
    assert words == ["--param=-dash=x", "--param", 'json_looking="[1]"', "--param",
                     "real_list=[1]", "--param", "text=plain"]
    args, _ = parse_line(shlex.join(words) + " a fox")
    assert args.extra_params == extra
    request = build_request("a fox", extra_params=extra)
    assert request.summary()["extra_params"] == extra and request.options["extra_params"] == extra
