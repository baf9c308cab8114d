"""What a batch is made of: prompts as a list, dicts, a DataFrame, or a .txt or .csv file.

Everything becomes a list of per-item option dicts (each with its ``prompt``) before any
request is built, so one bad row is one clear error and nothing is sent.
"""

from __future__ import annotations

import csv
import json
import math
import os
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..model.request import OPTION_NAMES

ITEM_OPTIONS = tuple(name for name in OPTION_NAMES if name != "external_task_id")
_LIST_OPTIONS = ("images", "elements")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def items_from(prompts: Any) -> list[dict[str, Any]]:
    """Per-item options from what ``Client.batch`` was given."""
    if isinstance(prompts, (str, bytes)):
        raise ValidationError("batch() takes a list of prompts, not one string "
                              "(for a file, pass a pathlib.Path, or %kirin batch FILE)")
    if _is_data_frame(prompts):
        records = prompts.to_dict("records")
    elif isinstance(prompts, Iterable):
        records = list(prompts)
    else:
        raise ValidationError(f"batch() takes a list of prompts, dicts or a DataFrame, "
                              f"not {type(prompts).__name__}")
    items = [_item(record, number) for number, record in enumerate(records, 1)]
    if not items:
        raise ValidationError("the batch has no prompts")
    return items


def items_from_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """``.txt``: one prompt a line (blank lines and ``#`` comments skipped); ``.csv``: a
    ``prompt`` column and any option columns (``n``, ``aspect_ratio``, ``images`` as
    ``a.png|b.png``, ``extra_params`` as a JSON object ...).

    Only ``\n`` and ``\r\n`` end a line. ``str.splitlines`` also splits at a lone
    ``\r``, VT, FF, U+001C to U+001E, U+0085, U+2028 and U+2029, which turned one row
    holding such a character into two paid items; they stay inside their prompt."""
    return read_file(path)[0]


BATCH_FILE_LIMIT = 50_000_000  # bytes: a million prompts is far less


def read_file(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], str]:
    """The items of a batch file, and the one line that says what was read (to show
    before anything is priced): ``read 3 prompts from prompts.txt: "a", "b", "c"``."""
    file = Path(path).expanduser()
    if not os.path.lexists(file):
        raise ValidationError(f"no such file: {file}")
    suffix = file.suffix.lower()
    from ..base.user_files import read_user_file

    # bytes, decoded: a text-mode read would turn every lone "\r" into a new line; read as
    # every user's file is (a FIFO or /dev/zero named as a batch file hung or filled memory)
    data = read_user_file(file, BATCH_FILE_LIMIT, "batch file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"cannot read {file.name}: {exc}") from None
    if suffix == ".txt":
        lines = [line.strip() for line in _lines(text)]
        items = items_from([line for line in lines if line and not line.startswith("#")])
    elif suffix == ".csv":
        items = items_from(_csv_rows(text, file.name))
    else:
        raise ValidationError(f"{file.name}: a batch file is .txt (one prompt a line) or .csv")
    return items, read_line(items, file.name)


def _lines(text: str) -> list[str]:
    """The lines of a text: ended by ``\n`` or ``\r\n`` only."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _csv_rows(text: str, name: str) -> list[dict[str, Any]]:
    """The rows of a CSV text, a row ended by ``\n`` or ``\r\n`` only. The csv module
    itself ends a row at any lone ``\r`` outside quotes (or refuses it), so a lone ``\r``
    is kept out of its sight as a character the text does not hold, and put back."""
    stand_in = next(chr(code) for code in range(0xE000, 0xF900) if chr(code) not in text)

    def back(value: str) -> str:
        return value.replace(stand_in, "\r")

    lines = [line.replace("\r", stand_in) + "\n" for line in _lines(text)]
    try:
        reader = csv.DictReader(lines)
        columns = [back(c).strip() for c in reader.fieldnames or []]
        if "prompt" not in columns:
            raise ValidationError(f"{name} needs a 'prompt' column (it has: "
                                  f"{', '.join(columns) or 'none'})")
        return [{back(k or "").strip(): _from_text(back(k or "").strip(), back(str(v)),
                                                   number)
                 for k, v in row.items() if v is not None and str(v).strip() != ""}
                for number, row in enumerate(reader, 2)]
    except csv.Error as exc:
        raise ValidationError(f"{name}: not a CSV file this can read ({exc})") from None


def read_line(items: list[dict[str, Any]], name: str, shown: int = 3) -> str:
    """``read 3 prompts from prompts.txt: "a red kettle", "a blue mug", …``: one line,
    control and separator characters shown escaped."""
    count = len(items)
    first = ", ".join(f'"{_shown(str(item["prompt"]))}"' for item in items[:shown])
    more = ", …" if count > shown else ""
    return f"read {count} prompt{'' if count == 1 else 's'} from {name}: {first}{more}"


def _shown(text: str, limit: int = 40) -> str:
    """A prompt on one line: a line or paragraph separator, a control character and the
    quote are escaped (so the count above matches what is seen); long ones are cut."""
    out = []
    for char in text[:limit]:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append({"\r": "\\r", "\t": "\\t"}.get(char, f"\\u{ord(char):04x}"))
        else:
            out.append(char)
    return "".join(out) + ("…" if len(text) > limit else "")


def _is_data_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_dict")


def _missing(value: Any) -> bool:
    """A DataFrame's empty cell (NaN, None, pandas.NA): the option is left out."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _item(record: Any, number: int) -> dict[str, Any]:
    if isinstance(record, str):
        record = {"prompt": record}
    if not isinstance(record, Mapping):
        raise ValidationError(f"item {number}: a prompt or a dict of options, not "
                              f"{type(record).__name__}")
    item = {str(k): v for k, v in record.items() if not _missing(v)}
    unknown = sorted(set(item) - {"prompt", *ITEM_OPTIONS})
    if unknown:
        said = "external ids come from the batch's name" if unknown == ["external_task_id"] \
            else f"known: prompt, {', '.join(ITEM_OPTIONS)}"
        raise ValidationError(f"item {number}: unknown option {', '.join(unknown)} ({said})")
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError(f"item {number}: the prompt is empty")
    item["prompt"] = prompt.strip()
    return item


def _from_text(column: str, value: str, line: int) -> Any:
    """A CSV cell as the option wants it."""
    text = str(value).strip()
    if column == "n":
        try:
            return int(text)
        except ValueError:
            raise ValidationError(f"line {line}: n must be a whole number, not {text!r}"
                                  ) from None
    if column == "watermark":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValidationError(f"line {line}: watermark must be true or false, not {text!r}")
    if column in _LIST_OPTIONS:
        parts = [part.strip() for part in text.split("|") if part.strip()]
        return [int(p) if column == "elements" and p.isdigit() else p for p in parts]
    if column == "fit":
        return text.lower() in _TRUE
    if column == "extra_params":  # a JSON object: {"result_type": "single"}
        try:
            params = json.loads(text)
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise ValidationError(f"line {line}: extra_params must be a JSON object, "
                                  f"not {text!r}")
        return params
    return text
