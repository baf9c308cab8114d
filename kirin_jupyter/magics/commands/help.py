"""``%kirin help`` prints the usage and the options table (also the magics' docstrings)."""

from __future__ import annotations

import textwrap

from .. import grammar
from ..context import Context
from .usage import no_words


def help_doc(width: int = grammar.HELP_WIDTH) -> str:
    """``%kirin help`` and the magics' docstrings, wrapped at words to ``width`` columns."""
    usage = [
        ("%%kirin [VAR] [options]", "the cell body is the prompt"),
        ("%kirin [options] PROMPT", "a one-line prompt"),
        ("%kirin help | models | jobs | wait | config", ""),
        ("%kirin doctor", "check the host and the key, at no cost (creates nothing)"),
        ("%kirin models --live [MODEL] [--refresh]",
         "the gateway's own list, or a model's document and what kirin-jupyter lacks of it"),
        ("%kirin resume [--steal] | show TASK_ID | login | ui | code", ""),
        ("%kirin cancel [TASK_ID | --all]",
         "cancel the last job, one task, or all (the queue protocol only; else stop "
         "following)"),
        ("%kirin show PATH", "the generation record saved inside a result file"),
        ("%kirin rerun PATH [options]", "generate again from a file's record; options win"),
        ("%kirin lineage ID|PATH", "the chain of results used as references, as thumbnails"),
        ("%kirin history [N] [--page P] [--model M] [--failed] [--search WORD]", ""),
        ("%kirin batch FILE [--name NAME] [--concurrency N] [options]",
         "one prompt a line (.txt) or a prompt column and option columns (.csv)"),
        ("%kirin batch show NAME [--page P]", "a page of a batch's gallery"),
        ("%%kirin --ar 1:1,16:9 --model omni,v3",
         "a sweep: every combination (and of {red|blue} in the prompt) as a priced grid"),
        ("%kirin element create NAME --front PATH --refer PATH [--refer PATH] "
         "[--tag TAG] [--description TEXT]",
         "make a subject (kirin_custom_elements); then --element NAME uses it"),
        ("%kirin element list", "the subjects made for this service"),
        ("%kirin export PATH [--since YYYY-MM-DD] [--model M] [--user NAME]",
         "the journal's results as .zip (files + manifest), .html or .csv"),
        ("%kirin tidy NOTEBOOK.ipynb [--drop-widgets]",
         "repair a notebook saved elsewhere (Colab) so GitHub and nbviewer render it"),
    ]
    lines = [wrap("Generate images with the Kirin API.", width), ""]
    for command, what in usage:
        text = f"  {command:<28} {what}" if what else f"  {command}"
        lines.append(wrap(text, width, indent="      "))
    lines += ["", "Options:", grammar.help_text(width), ""]
    lines.append(wrap(
        "In the prompt, {name} is replaced by the value of a variable; {{ and }} give "
        "braces; a body that is just $var takes the prompt from that variable. VAR and "
        "_kirin hold the Job. Defaults: %config Kirin.", width))
    return "\n".join(lines)


def wrap(text: str, width: int, indent: str = "") -> str:
    """At words only: a long word (a path, a URL) overflows rather than being split."""
    return "\n".join(textwrap.wrap(text, width, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))


def run(ctx: Context, rest: str) -> None:
    no_words("help", rest)
    print(help_doc(ctx.text_width()))
