"""``%kirin element create/list`` in an IPython shell, then ``--element NAME``."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.shortcuts import default_client

BIG = 2**53


def test_element_create_list_and_use_by_name(shell: InteractiveShell, make_image,
                                             capsys) -> None:
    front = make_image(600, 800, "PNG", name="front.png")
    side = make_image(640, 480, "JPEG", name="side.jpg")
    shell.run_line_magic("kirin", f"element create 'red fox' --front {front} --refer {side} "
                                  "--tag Character --description 'a small red fox'")
    out = capsys.readouterr().out
    assert f"element 'red fox': id {BIG + 1}" in out and "--element 'red fox'" in out
    assert shell.user_ns["_kirin_element"].tags == ("o_102",)
    shell.run_line_magic("kirin", "element list")
    listed = capsys.readouterr().out
    assert "red fox" in listed and str(BIG + 1) in listed and "o_102" in listed
    shell.run_cell_magic("kirin", "pic -m v3 --element 'red fox' --wait", "the fox at dusk")
    job = shell.user_ns["pic"]
    assert list(job.request.elements) == [BIG + 1] and job.status == "completed"


@pytest.mark.parametrize(("line", "said"), [
    ("element", "create or list?"),
    ("element list extra", "takes nothing more"),
    ("element create fox --refer x.png", "the following arguments are required: --front"),
    ("element create abcdefghijklmnopqrstuvwxyz --front {f} --refer {s}",
     "name is 26 characters; the limit is 20"),
    ("element create fox --front {f} --refer {f}", "is the frontal image"),
    ("element create fox --front {f} --refer {s} --tag Dragon", "tag 'Dragon' is unknown"),
    ("element create fox --front {f} --refer {s} --body both", "invalid choice"),
])
def test_element_mistakes_are_one_line_and_send_nothing(
        shell: InteractiveShell, make_image, line: str, said: str) -> None:
    front = make_image(600, 800, "PNG", name="front.png")
    side = make_image(640, 480, "JPEG", name="side.jpg")
    with pytest.raises(UsageError) as error:
        shell.run_line_magic("kirin", line.format(f=front, s=side))
    assert said in str(error.value) and "\n" not in str(error.value)
    assert "_kirin_element" not in shell.user_ns
    simulator = default_client().simulator
    assert simulator is not None and sum(simulator.requests.values()) == 0


def test_config_element_body_reaches_the_wire(shell: InteractiveShell, make_image) -> None:
    """The in-process simulator takes the docs body: %config choosing domestic is refused,
    and the one line names the value to go back to."""
    front = make_image(600, 800, "PNG", name="front.png")
    side = make_image(640, 480, "JPEG", name="side.jpg")
    shell.run_line_magic("config", "Kirin.element_body = 'domestic'")
    with pytest.raises(UsageError) as refused:
        shell.run_line_magic("kirin", f"element create fox --front {front} --refer {side}")
    message = str(refused.value)
    assert "not supported: element_frontal_image" in message
    assert "%config Kirin.element_body = 'docs'" in message and "\n" not in message
    shell.run_line_magic("config", "Kirin.element_body = 'docs'")
    shell.run_line_magic("kirin", f"element create fox --front {front} --refer {side}")
    assert shell.user_ns["_kirin_element"].element_id > BIG


def test_unknown_element_name_on_the_magic_lists_known_ones(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"no element named 'owl'.*known elements: none yet"):
        shell.run_line_magic("kirin", "-m v3 --element owl -- an owl")
    assert "_kirin" not in shell.user_ns


def test_help_names_the_element_subcommand(shell: InteractiveShell, capsys) -> None:
    shell.run_line_magic("kirin", "help")
    assert "%kirin element create NAME --front PATH" in capsys.readouterr().out
