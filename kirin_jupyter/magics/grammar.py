"""The magic line's grammar: one table of options, from which parsing and help are made.

Parsing raises ``UsageError`` (one line, no traceback in IPython) for every mistake.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import textwrap
from dataclasses import dataclass
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ..model import spec


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    dest: str
    help: str  # {models}, {resolutions}, ...: filled from the model table when shown
    metavar: str | None = None
    action: str = "store"  # store | append | store_true | store_false | param
    default: Any = None

    def described(self) -> str:
        """The help text, with the models that have each feature named from the model
        table as it is now (a model added there shows up here)."""
        return self.help.format(**_model_words())


def _model_words() -> dict[str, str]:
    def having(test: Any) -> str:
        return ", ".join(m.alias for m in spec.MODELS.values() if test(m)) or "no model"

    return {
        "models": ", ".join(f"{name} ({m.alias})" for name, m in spec.MODELS.items()),
        "resolutions": "; ".join(f"{m.alias}: {' '.join(m.resolutions) or 'none'}"
                                 for m in spec.MODELS.values()),
        "auto": having(lambda m: "auto" in m.aspect_ratios),
        "placeholders": having(lambda m: m.supports_image_placeholders),
        "negative": having(lambda m: m.supports_negative_prompt),
        "elements": having(lambda m: m.supports_elements),
        "series": having(lambda m: m.series_amounts is not None),
    }


OPTIONS: tuple[Option, ...] = (
    Option(("-m", "--model"), "model",
           "{models}; default from Kirin.default_model", "MODEL"),
    Option(("-n",), "n", "number of images, 1-9", "N"),
    Option(("-r", "--res", "--resolution"), "resolution", "{resolutions}", "RES"),
    Option(("-a", "--ar", "--aspect-ratio"), "aspect_ratio",
           f"one of {', '.join(spec.COMMON_ASPECT_RATIOS)}, or auto ({{auto}})", "W:H"),
    Option(("-i", "--image"), "images",
           "reference image: a path, an http(s) URL or $variable holding a PIL image, numpy "
           "array or bytes; repeat for several ({placeholders}: <<<image_N>>> in the prompt)",
           "IMAGE", action="append"),
    Option(("--neg", "--negative-prompt"), "negative_prompt",
           "what to avoid ({negative}, without a reference image)", "TEXT"),
    Option(("-e", "--element"), "elements",
           "subject element id ({elements}); repeatable", "ID", action="append"),
    Option(("--series",), "series",
           "a series of N related images, 2-9, instead of n variants ({series})", "N"),
    Option(("--watermark",), "watermark", "also generate watermarked results",
           action="store_true"),
    Option(("--no-watermark",), "watermark", "no watermarked results", action="store_false"),
    Option(("--callback-url",), "callback_url", "URL the service notifies on status changes",
           "URL"),
    Option(("--id", "--external-id"), "external_task_id",
           "your own task id (unique per account); one is generated when omitted", "ID"),
    Option(("--param",), "extra_params",
           "a field the pages do not list, sent inside params as given (not checked): "
           "VALUE is read as JSON when it parses, else as text; repeatable",
           "KEY=VALUE", action="param"),
    Option(("--fit",), "fit", "mend reference images that break a rule (resize, pad, convert)",
           action="store_true"),
    Option(("--wait",), "wait", "block this cell until the images are in",
           action="store_true"),
    Option(("--dry-run",), "dry_run",
           "show the exact request (key redacted) and its price; create nothing",
           action="store_true"),
    Option(("--timeout",), "timeout", "give up waiting after this many seconds", "SECONDS"),
    Option(("--provenance",), "provenance",
           "what the saved files carry: full (record and AI mark), minimal (AI mark, model, "
           "ids: no prompt) or off (the bytes the service sent); default from "
           "Kirin.provenance", "LEVEL"),
)


_TAKES_VALUE = ("store", "append", "param")


def read_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--param``: VALUE as JSON when it parses (``0.5``, ``true``,
    ``[1, 2]``, ``"7"``), else the text as typed (``single``)."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"expected KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def param_word(key: str, value: Any) -> str:
    """The ``KEY=VALUE`` that ``read_param`` reads back as this key and value: text that
    would not parse as JSON as typed, anything else as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return f"{key}={value}"
    return f"{key}={json.dumps(value, ensure_ascii=False)}"


class _ParamAction(argparse.Action):
    """Each ``--param KEY=VALUE`` adds one entry to a dict (a key given twice is refused:
    one of the two would be dropped unseen)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        try:
            key, value = read_param(str(values))
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        params = dict(getattr(namespace, self.dest, None) or {})
        if key in params:
            raise argparse.ArgumentError(self, f"{key!r} is given twice")
        params[key] = value
        setattr(namespace, self.dest, params)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, whatever was typed
        raise UsageError(f"%kirin: {' '.join(message.split())} (see %kirin help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "%kirin: see %kirin help")


def build_parser(with_var: bool) -> argparse.ArgumentParser:
    parser = _Parser(prog="%%kirin" if with_var else "%kirin", add_help=False,
                     allow_abbrev=False)
    if with_var:
        parser.add_argument("var", nargs="?", help="variable that will hold the Job")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.described(),
                                  "action": _ParamAction if opt.action == "param" else opt.action}
        if opt.action in _TAKES_VALUE:
            kwargs["metavar"] = opt.metavar
        parser.add_argument(*opt.flags, **kwargs)
    parser.set_defaults(watermark=None)
    return parser


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"%kirin: cannot read the options ({exc})") from None


def parse_cell_line(line: str) -> argparse.Namespace:
    """``%%kirin [VAR] [options]``."""
    args = build_parser(with_var=True).parse_args(_split(line))
    if args.var is not None and not args.var.isidentifier():
        raise UsageError(f"%%kirin: {args.var!r} is not a variable name")
    return args


_TOKEN = re.compile(r"""\s*("(?:\\.|[^"\\])*"|'[^']*'|\S+)""")
_VALUE_OPTIONS = {f for o in OPTIONS if o.action in _TAKES_VALUE for f in o.flags}
_FLAG_OPTIONS = {f for o in OPTIONS if o.action not in _TAKES_VALUE for f in o.flags}


def split_line_prompt(line: str) -> tuple[str, str]:
    """Split ``%kirin -n 2 a red fox`` into the options part and the prompt part.

    Options come first; the prompt is the rest of the line exactly as typed (so
    apostrophes need no quoting). ``--`` ends the options explicitly.
    """
    pos = 0
    expect_value = False
    while True:
        match = _TOKEN.match(line, pos)
        if not match:
            return line[:pos], ""
        token = match.group(1)
        if expect_value:
            expect_value = False
        elif token == "--":
            return line[:match.start(1)], line[match.end():].strip()
        elif token.split("=", 1)[0] in _VALUE_OPTIONS:
            expect_value = "=" not in token
        elif token in _FLAG_OPTIONS:
            pass
        elif token.startswith("-") and len(token) > 1 and not token[1].isdigit():
            raise UsageError(f"%kirin: unknown option {token} (see %kirin help)")
        else:
            options, prompt = line[:match.start(1)], line[match.start(1):].strip()
            _refuse_options_in(prompt, options)
            return options, prompt
        pos = match.end()


def _refuse_options_in(prompt: str, options: str) -> None:
    """``%kirin a fox -n 2`` would send "a fox -n 2" as the prompt with n = 1, and bill
    it: refuse it, naming the option and showing the line with the options first."""
    words = prompt.split()
    moved: list[str] = []
    kept: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        flag = word.split("=", 1)[0]
        if flag in _VALUE_OPTIONS:
            takes_next = "=" not in word and index + 1 < len(words)
            moved += words[index:index + 1 + takes_next]
            index += 1 + takes_next
            continue
        if word in _FLAG_OPTIONS:
            moved.append(word)
        else:
            kept.append(word)
        index += 1
    if not moved:
        return
    first = next(w for w in moved if w.split("=", 1)[0] in _VALUE_OPTIONS | _FLAG_OPTIONS)
    corrected = " ".join([*options.split(), *moved, *kept])
    as_text = " ".join([*options.split(), "--", *words])  # one line, whatever was typed
    raise UsageError(
        f"%kirin: {first} comes after the prompt, where it would be sent as prompt text; "
        f"put options first: %kirin {corrected} (or %kirin {as_text} to keep it as text)"
    )


def parse_line(line: str) -> tuple[argparse.Namespace, str]:
    """``%kirin [options] prompt`` -> (options, prompt)."""
    options, prompt = split_line_prompt(line)
    return build_parser(with_var=False).parse_args(_split(options)), prompt


def words_for(name: str, value: object) -> list[str]:
    """The magic-line words that give option ``name`` (a ``RequestOptions`` key) this
    value: ``-n 2``; ``-i a.png -i b.png`` for a list; ``--watermark`` or
    ``--no-watermark`` for a flag; ``--param k=v`` for each entry of a dict;
    ``--neg=-x`` when a value starts with '-'."""
    options = [o for o in OPTIONS if o.dest == name]
    if not options:
        raise KeyError(f"no magic option for {name!r}")
    if isinstance(value, bool):
        wanted = "store_true" if value else "store_false"
        chosen = [o for o in options if o.action == wanted]
        return [chosen[0].flags[-1]] if chosen else []
    option = options[0]
    # As people type them: -m, -n, --res, --ar, -i, --neg, -e (a short long flag first).
    short = next((f for f in option.flags if f.startswith("--") and len(f) <= 5),
                 option.flags[0])
    long = option.flags[-1]
    words: list[str] = []
    if isinstance(value, dict):
        value = [param_word(str(key), item) for key, item in value.items()]
    for item in value if isinstance(value, (list, tuple)) else [value]:
        text = str(item)
        words += [f"{long}={text}"] if text.startswith("-") else [short, text]
    return words


HELP_WIDTH = 88  # columns: a notebook's output breaks longer lines mid-word


def help_text(width: int = HELP_WIDTH) -> str:
    """The options table as plain text, for ``%kirin help`` and the magics' docstrings.

    Each option's help is wrapped at words under its own column, so no line is longer than
    ``width`` (JupyterLab's output area breaks long lines anywhere, even mid-word)."""
    column = 2 + max(len(_flags_of(opt)) for opt in OPTIONS) + 2
    stacked = width - column < 40  # a narrow terminal: the help goes under the flags
    if stacked:
        column = 6
    rows = []
    for opt in OPTIONS:
        lines = textwrap.wrap(opt.described(), max(20, width - column), break_long_words=False,
                              break_on_hyphens=False) or [""]
        if stacked:
            rows.append(f"  {_flags_of(opt)}")
        else:
            rows.append(f"  {_flags_of(opt):<{column - 4}}  {lines.pop(0)}".rstrip())
        rows += [" " * column + line for line in lines]
    return "\n".join(rows)


def _flags_of(opt: Option) -> str:
    return ", ".join(opt.flags) + (f" {opt.metavar}" if opt.metavar else "")


def seconds(text: str | None, what: str = "--timeout", command: str = "%kirin") -> float | None:
    """The one reading of a number of seconds on a magic line (``%%kirin --timeout``,
    ``%kirin batch --timeout``, a sweep's, ``%kirin wait --timeout``): a finite number,
    0 or more; anything else, ``inf`` included, is one ``UsageError`` (leaving the option
    out already means no limit). Three parsers disagreed about ``inf`` before."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{command}: {what} needs a number of seconds, 0 or more, not "
                         f"{text!r} (leave it out to wait without a limit)")
    return value
