"""The magics in an IPython shell: options, prompts, subcommands, config, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from kirin_jupyter.magics.commands.help import help_doc as _help_doc
from kirin_jupyter.magics.grammar import parse_cell_line, parse_line, split_line_prompt
from kirin_jupyter.magics.prompting import PromptError, interpolate, prompt_from_cell
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import TEST_KEY
from tests.support.html_checks import colours_outside_theme, style_blocks


def test_cell_magic_runs_and_binds_variables(shell: InteractiveShell, capsys) -> None:
    shell.user_ns["animal"] = "otter"
    shell.run_cell_magic("kirin", "pic -m v3 -n 2 --ar 1:1 --wait", "a {animal} in {{braces}}")
    job = shell.user_ns["pic"]
    assert shell.user_ns["_kirin"] is job
    assert job.prompt == "a otter in {braces}"
    assert job.status == "completed" and len(job.result.paths) == 2
    assert job.result.images[0].size == (1024, 1024)
    printed = capsys.readouterr().out
    assert str(job.result.paths[0]) in printed  # terminal fallback prints the files


def test_line_magic_prompt_keeps_text_as_typed(shell: InteractiveShell) -> None:
    shell.run_line_magic("kirin", "-n 1 --res 2k -- a fox's den, -n is not an option here")
    job = shell.user_ns["_kirin"]
    assert job.prompt == "a fox's den, -n is not an option here"  # after --: text
    assert job.request.resolution == "2k"


@pytest.mark.parametrize(("line", "corrected"), [
    ("a fox -n 2", "%kirin -n 2 a fox"),
    ("-m v3 a fox in snow --wait", "%kirin -m v3 --wait a fox in snow"),
    ("a fox --ar=16:9 at dusk", "%kirin --ar=16:9 a fox at dusk"),
])
def test_options_after_a_one_line_prompt_are_refused_before_sending(
    shell: InteractiveShell, line: str, corrected: str
) -> None:
    """The issue's case: "a fox -n 2" was sent as the prompt, with n = 1, and billed."""
    option = next(w for w in line.split()[1:] if w.startswith("-"))
    with pytest.raises(UsageError) as raised:
        shell.run_line_magic("kirin", line)
    message = str(raised.value)
    assert "\n" not in message and f"put options first: {corrected} " in message
    assert message.startswith(f"%kirin: {option} comes after the prompt")
    assert "_kirin" not in shell.user_ns  # no job: nothing was sent


def test_image_option_takes_paths_and_variables(shell: InteractiveShell, make_image) -> None:
    shell.user_ns["ref"] = Image.new("RGB", (500, 400), "red")
    path = make_image(400, 400, "JPEG")
    shell.run_cell_magic("kirin", f"j -i $ref --image {path} --wait",
                         "<<<image_1>>> meets <<<image_2>>>")
    job = shell.user_ns["j"]
    assert [r.label for r in job.request.images] == ["PIL image", path.name]
    assert job.status == "completed"


def test_body_dollar_var_is_the_prompt(shell: InteractiveShell) -> None:
    shell.user_ns["text"] = "a {not interpolated} prompt"
    shell.run_cell_magic("kirin", "k --dry-run", "$text")
    assert "k" not in shell.user_ns


def test_dry_run_prints_request_and_price_and_creates_nothing(
    shell: InteractiveShell, capsys, make_image
) -> None:
    path = make_image(400, 400)
    shell.run_cell_magic("kirin", f"--dry-run -i {path} --id order-7 --watermark -n 2",
                         "<<<image_1>>> at dawn")
    out = capsys.readouterr().out
    assert "POST http://kirin-simulator.invalid/model/v1/generation\n" in out
    assert '"model": "kirin_image_omni",\n  "input": [\n    {\n      "params": {' in out
    assert '"external_task_id": "order-7"' in out and '"enabled": true' in out
    assert "(base64, " in out and len(out) < 2000
    assert "price: about $0.08 (quoted by the service)" in out
    client = shell.magics_manager.registry["KirinMagics"].client()
    assert client.simulator.stats()["requests"] == {"quote": 1}  # a quote creates nothing


def test_usage_errors_are_one_line_and_send_nothing(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as server:
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
        shell.run_line_magic("config", f"Kirin.base_url = '{server.url}'")
        bad = [
            ("", "-n 12", "x", "n is 12"),
            ("", "-m dalle", "x", "unknown model"),
            ("", "--ar 5:4", "x", "aspect ratio '5:4'"),
            ("", "--bogus", "x", "unrecognized arguments: --bogus"),
            ("", "1var", "x", "'1var' is not a variable name"),
            ("", "", "   ", "prompt is empty"),
            ("", "-i $nothing", "x", "no variable named 'nothing'"),
            ("", "--neg 'blur' -m omni", "x", "no negative prompt"),
            ("", "-n", "x", "expected one argument"),
            ("", "--res 'unclosed", "x", "cannot read the options"),
        ]
        for _, line, body, message in bad:
            with pytest.raises(UsageError, match=message) as caught:
                shell.run_cell_magic("kirin", line, body)
            assert "\n" not in str(caught.value)
        with pytest.raises(UsageError, match="unknown option --nope"):
            shell.run_line_magic("kirin", "--nope a fox")
        with pytest.raises(UsageError, match="no prompt given"):
            shell.run_line_magic("kirin", "-n 2")
        assert server.service.stats()["requests"] == {}


def test_config_changes_defaults(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "Kirin.default_model = 'v3'")
    shell.run_line_magic("config", "Kirin.n = 3")
    shell.run_line_magic("config", "Kirin.aspect_ratio = '4:3'")
    shell.run_cell_magic("kirin", "c --dry-run", "a fox")
    shell.run_cell_magic("kirin", "c", "a fox")
    job = shell.user_ns["c"]
    assert (job.model, job.request.n, job.request.aspect_ratio) == ("kirin_v3_image", 3, "4:3")


def test_output_dir_setting(shell: InteractiveShell, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    shell.run_line_magic("config", f"Kirin.output_dir = '{target}'")
    shell.run_cell_magic("kirin", "o", "a fox")
    result = shell.user_ns["o"].wait(20)
    assert result.paths[0].is_relative_to(target)


def test_subcommands(shell: InteractiveShell, capsys) -> None:
    shell.run_line_magic("kirin", "help")
    assert "--aspect-ratio" in capsys.readouterr().out
    shell.run_line_magic("kirin", "models")
    shell.run_line_magic("kirin", "-n 2 a fox")
    shell.run_line_magic("kirin", "wait")
    shell.run_line_magic("kirin", "jobs")
    out = capsys.readouterr().out
    assert "completed" in out and "session spend: $" in out
    shell.run_line_magic("kirin", "config")
    out = capsys.readouterr().out
    assert "built-in simulator" in out and "Kirin.default_model" in out
    shell.run_line_magic("kirin", "-- models are walking")  # -- makes it a prompt
    assert shell.user_ns["_kirin"].prompt == "models are walking"


def test_a_mistyped_subcommand_is_never_a_billed_prompt(shell: InteractiveShell) -> None:
    client = shell.magics_manager.registry["KirinMagics"].client()
    for line, message in [
        ("wait 30", "usage: %kirin wait \\[--timeout SECONDS\\]"),
        ("show", "which job\\? usage: %kirin show TASK_ID"),
        ("history 5x", "usage: %kirin history \\[N\\]"),
        ("jobs --all", "unexpected '--all'"),
        ("models walking on a runway", "%kirin -- models"),
        ("$nope", "no variable named 'nope'"),
    ]:
        with pytest.raises(UsageError, match=message):
            shell.run_line_magic("kirin", line)
    assert client.simulator.stats()["requests"] == {}


def test_help_is_generated_from_the_options(shell: InteractiveShell) -> None:
    doc = shell.find_cell_magic("kirin").__doc__
    for flag in ("--model", "--negative-prompt", "--element", "--callback-url", "--external-id",
                 "--watermark", "--dry-run", "--fit", "--wait"):
        assert flag in doc


def test_parsers() -> None:
    assert split_line_prompt("-n 2 --ar 1:1 a red fox") == ("-n 2 --ar 1:1 ", "a red fox")
    assert split_line_prompt('--neg "x y" -- -n is in the prompt') == (
        '--neg "x y" ', "-n is in the prompt")
    args, prompt = parse_line("--model=v3 a -5 degree morning")
    assert args.model == "v3" and prompt == "a -5 degree morning"
    cell = parse_cell_line("cats -m omni -i a.png -i b.png -e 1 -e 2 --no-watermark")
    assert (cell.var, cell.images, cell.elements, cell.watermark) == (
        "cats", ["a.png", "b.png"], ["1", "2"], False)
    assert parse_cell_line("").watermark is None


def test_interpolation_never_evaluates() -> None:
    ns = {"name": "Ada", "n": 3}
    assert interpolate("{name} x{n} {missing} {a.b} {1+1} {{name}}", ns) == \
        "Ada x3 {missing} {a.b} {1+1} {name}"
    assert prompt_from_cell("  $name \n", {"name": "from var"}) == "from var"
    with pytest.raises(PromptError, match="holds a int"):
        prompt_from_cell("$n", ns)


def test_history_and_show(shell: InteractiveShell, capsys) -> None:
    from IPython.core.displaypub import CapturingDisplayPublisher

    shell.run_cell_magic("kirin", "h --wait", "a <b>bold</b> fox")
    task_id = shell.user_ns["h"].task_id
    publisher = CapturingDisplayPublisher()
    shell.display_pub, original = publisher, shell.display_pub
    try:
        shell.run_line_magic("kirin", "history")
        shell.run_line_magic("kirin", f"show {task_id}")
    finally:
        shell.display_pub = original
    history, shown = (out["data"]["text/html"] for out in publisher.outputs)
    assert task_id in history and "&lt;b&gt;bold&lt;/b&gt;" in history
    assert '<img src="data:image/jpeg;base64,' in history
    assert task_id in shown and "completed" in shown
    with pytest.raises(UsageError, match="no job with task id or external id 'nope'"):
        shell.run_line_magic("kirin", "show nope")


def test_resume_with_nothing_left(shell: InteractiveShell, capsys) -> None:
    shell.run_line_magic("kirin", "resume")
    assert "nothing to resume" in capsys.readouterr().out


def test_login_reads_key_with_getpass_and_never_shows_it(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with SimulatorServer(task_seconds=0.2, api_key=TEST_KEY) as server:
        monkeypatch.setattr("getpass.getpass", lambda prompt="": TEST_KEY)
        shell.run_line_magic("kirin", "login")  # no base URL: the key alone means Vtrix
        assert "service https://cloud.vtrix.ai" in capsys.readouterr().out
        shell.run_line_magic("config", f"Kirin.base_url = '{server.url}'")
        shell.run_line_magic("kirin", "login")
        shell.run_cell_magic("kirin", "k --wait", "a fox with a key")
        assert shell.user_ns["k"].status == "completed"
        shell.run_line_magic("kirin", "config")
        shell.run_line_magic("config", "Kirin")
        shell.run_line_magic("kirin", "jobs")
        out = capsys.readouterr()
        assert "api key:    set (from %kirin login)" in out.out
        assert TEST_KEY not in out.out + out.err
        assert server.service.stats()["tasks"] == 1


def test_budget_in_the_magic(shell: InteractiveShell, capsys) -> None:
    shell.run_line_magic("config", "Kirin.max_cost = 0.05")
    shell.run_cell_magic("kirin", "first --wait", "a fox")  # $0.04 on the simulator
    with pytest.raises(UsageError, match=r"budget: .*\$0.04 of max_cost \$0.05"):
        shell.run_cell_magic("kirin", "second", "another fox")
    assert "second" not in shell.user_ns
    shell.run_line_magic("kirin", "jobs")
    assert "session spend: $0.04 of max_cost $0.05" in capsys.readouterr().out
    shell.run_line_magic("config", "Kirin.output_dir = 'elsewhere'")  # a new client ...
    with pytest.raises(UsageError, match="budget"):  # ... keeps the session's spend
        shell.run_cell_magic("kirin", "third", "a third fox")


def test_the_simulator_answers_at_the_configured_paths(shell: InteractiveShell, caplog
                                                       ) -> None:
    """The no-key default runs the same protocol code as a real account, at whatever
    paths %config names (before, a changed create_path made the simulator answer 404)."""
    shell.run_line_magic("config", "Kirin.create_path = '/v2/make'")
    shell.run_line_magic("config", "Kirin.task_path = '/v2/jobs/{id}/state'")  # IPython
    assert "write {{id}}: IPython expands {id}" in caplog.text  # expands {id}: refused
    shell.run_line_magic("config", "Kirin.task_path = '/v2/jobs/{{id}}/state'")
    shell.run_line_magic("config", "Kirin.quote_path = '/v2/price'")
    shell.run_cell_magic("kirin", "pic --wait", "a fox")
    job = shell.user_ns["pic"]
    assert job.status == "completed" and job.quote.source == "service"
    service = shell.magics_manager.registry["KirinMagics"].client().simulator
    assert service.routes.create == "/v2/make" and service.stats()["requests"]["create"] == 1


def test_flat_bodies_when_a_deployment_wants_them(shell: InteractiveShell, capsys) -> None:
    shell.run_line_magic("config", "Kirin.body_style = 'flat'")
    shell.run_cell_magic("kirin", "--dry-run", "a fox")
    assert '"prompt": "a fox"' in capsys.readouterr().out.split('"input"')[0]
    shell.run_cell_magic("kirin", "pic --wait", "a fox")
    assert shell.user_ns["pic"].status == "completed"


def test_ctrl_c_in_the_terminal_is_one_line_and_the_job_goes_on(
    shell: InteractiveShell, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal blocks in job.wait(); Ctrl-C arrives there as KeyboardInterrupt (the
    real-kernel tests press it for real; a terminal cannot be driven from here)."""
    from kirin_jupyter.engine.job import Job
    from kirin_jupyter.magics.follow import STOPPED_WAITING

    real_wait = Job.wait
    pressed: list[Job] = []

    def ctrl_c(self: Job, timeout: float | None = None) -> object:
        if not pressed:
            pressed.append(self)
            raise KeyboardInterrupt
        return real_wait(self, timeout)

    monkeypatch.setattr(Job, "wait", ctrl_c)
    shell.run_line_magic("kirin", "a fox")  # no exception: one line instead
    assert capsys.readouterr().out.strip().endswith(STOPPED_WAITING)
    [job] = pressed
    assert job.wait(30).paths  # the job went on


def test_help_wraps_at_words_within_88_columns(
    shell: InteractiveShell, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JupyterLab's output area breaks any longer line mid-word (word-break: break-all),
    and so does a terminal narrower than the text."""
    from kirin_jupyter.magics.grammar import OPTIONS

    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: 88 columns all the same
    shell.run_line_magic("kirin", "help")
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) == 88
    flat = " ".join(text.split())
    for opt in OPTIONS:  # every help text whole: no word was cut in two
        assert " ".join(opt.described().split()) in flat, opt.described()
    assert "VAR and _kirin hold the Job. Defaults: %config Kirin." in flat
    assert shell.find_cell_magic("kirin").__doc__ == text.rstrip("\n") == _help_doc()
    monkeypatch.setenv("COLUMNS", "64")  # a narrow terminal: its own width
    shell.run_line_magic("kirin", "help")
    narrow = capsys.readouterr().out
    assert max(len(line) for line in narrow.splitlines()) <= 63
    assert all(" ".join(o.described().split()) in " ".join(narrow.split()) for o in OPTIONS)


def test_models_is_a_text_table_in_the_terminal_and_themed_html(
    shell: InteractiveShell, capsys
) -> None:
    """It printed <IPython.core.display.HTML object> in the IPython terminal."""
    from IPython.core.displaypub import CapturingDisplayPublisher

    from kirin_jupyter.display import theme

    shell.run_line_magic("kirin", "models")
    out = capsys.readouterr().out
    assert "object>" not in out and "<" not in out.replace("<<<image_N>>>", "")
    lines = out.splitlines()
    assert lines[0].split() == ["model", "alias", "max", "images", "aspect", "ratios"]
    assert any(re.match(r"kirin_image_omni +omni +10 +16:9 ", line) for line in lines)
    assert any(re.match(r"kirin_v3_image +v3 +1 +16:9 ", line) for line in lines)
    assert "(default 16:9)" in out and max(len(line) for line in lines) <= 100
    publisher = CapturingDisplayPublisher()
    shell.display_pub, original = publisher, shell.display_pub
    try:
        shell.run_line_magic("kirin", "models")
    finally:
        shell.display_pub = original
    html = publisher.outputs[0]["data"]["text/html"]
    assert colours_outside_theme(html) == [] and style_blocks(html) == 1  # theme colours
    assert theme.MUTED in html and "text-align:left" in html and "margin:0" in html
    assert "kirin_image_omni" in html


def test_resume_explains_once_that_simulated_tasks_died_with_their_kernel(
    shell: InteractiveShell, capsys
) -> None:
    """Before, the job was followed and failed with "task … was not found (HTTP 404): task
    … not found"."""
    client = shell.magics_manager.registry["KirinMagics"].client()
    for number in (1, 2):
        client.journal.record_submit(f"old-{number}", "kirin_image_omni", "a fox", {"n": 1},
                                     client.base_url, client.output_dir)
        client.journal.record_state(f"old-{number}", "running", task_id=f"sim-gone{number}")
    shell.run_line_magic("kirin", "resume")
    out = capsys.readouterr().out
    assert out.count("cannot be resumed") == 1 and "not found" not in out
    flat = " ".join(out.split())
    assert "2 simulated job(s) cannot be resumed (sim-gone1, sim-gone2)" in flat
    assert "only in the kernel process that made them" in flat
    assert "Run the cell again" in flat
    assert max(len(line) for line in out.splitlines()) <= 88
    assert "_kirin_resumed" not in shell.user_ns
    shell.run_line_magic("kirin", "wait")
    assert capsys.readouterr().out == "kirin: 0 completed, 0 failed\n"  # nothing followed
    shell.run_line_magic("kirin", "resume")
    assert "nothing to resume" in capsys.readouterr().out  # said once, not every time


def test_the_panel_in_a_terminal_says_what_to_use_instead(shell: InteractiveShell,
                                                          capsys) -> None:
    shell.run_line_magic("kirin", "ui")
    out = capsys.readouterr().out
    assert "the panel needs a notebook front end" in out and "%%kirin" in out
    assert "VBox" not in out and "Panel(" not in out


def test_jobs_is_an_aligned_table_that_fits_88_columns(shell: InteractiveShell,
                                                       capsys) -> None:
    """Its lines ran past 100 columns, which a notebook's output breaks mid-word."""
    shell.run_line_magic("kirin", "-n 2 a fox " + "in deep fresh snow " * 8)
    shell.run_line_magic("kirin", "-m v3 an owl")
    capsys.readouterr()
    shell.run_line_magic("kirin", "jobs")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "state", "model", "task", "time", "cost", "prompt"]
    assert max(len(line) for line in lines) <= 88
    fox, owl = lines[2], lines[3]
    assert re.match(r"  1  completed  omni   sim-\w+ +\d+\.\d s +\$0\.08  a fox in deep", fox)
    assert fox.endswith("…") and owl.endswith("  an owl")
    assert lines[0].index("prompt") == fox.index("a fox") == owl.index("an owl")
    assert lines[4] == "session spend: $0.12"
