"""The gateway's own parameter document for a model, and what it says kirin-jupyter lacks.

The gateway publishes each model's document as Markdown (``GET
/model/v1/models/skill/{model}``). Its exact layout is not specified anywhere, so the
parameter names are read from every shape such a page takes: the plain lines of the
documentation site (``prompt string required``), Markdown tables with a name column,
bullet lists, and headings. Nested fields (``element_id`` inside ``element_list``, the
``enabled`` of ``watermark_info``) are recognised as children and not counted as
parameters of their own. Comparing the names with the spec table says which documented
parameters kirin-jupyter does not know yet: a client that stays current without a release
at least says what it is missing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..base import renderers
from ..base.text import cut
from ..errors import ValidationError
from . import spec
from .request import documented_fields

# What a model name may be before it becomes part of a URL and a cache file's name.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LONGEST_LINE = 2000
_TYPES = ("string", "str", "integer", "int", "number", "float", "double", "long",
          "boolean", "bool", "array", "list", "object", "map", "dict", "enum", "file")
_TYPE = "(?:" + "|".join(_TYPES) + r")(?:\[\])?"
# ``prompt string required``: one parameter per line, as the documentation site prints it.
_PLAIN = re.compile(rf"({_NAME})\s+{_TYPE}(?:\s*[,(]?\s*(?:required|optional)\)?)?",
                    re.IGNORECASE)
_HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*")
_BULLET = re.compile(r"(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)")
_FENCE = re.compile(r"\s*(`{3,}|~{3,})")
_JSON_KEY = re.compile(r'\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*:')
# A name at the start of a bullet or heading: in code or bold, or bare and followed by its
# type, a colon or a parenthesis (so "- Format: .jpg" does not count, "- n (integer)" does).
_PATH = _NAME + r"(?:(?:\.|\[\]\.?)" + _NAME + r")*"  # element_list[].element_id
_TABLE_NAME = re.compile(r"(?:\*\*|__)?`?(" + _PATH + r")`?(?:\*\*|__)?(?=$|[\s(*:,])")
_LEAD_CODE = re.compile(r"(?:\*\*|__)?`(" + _PATH + r")`")
_LEAD_BOLD = re.compile(r"(?:\*\*|__)(" + _NAME + r")(?:\*\*|__)(?![A-Za-z0-9])")
_LEAD_BARE = re.compile(r"(" + _NAME + r")(?:\s*[:(—–]|\s+-\s|\s+" + _TYPE + r"\b)")

# Where the parameters start and end: a heading (``## Parameters``) or, on the plain pages
# of the documentation site, a line of its own ("Parameters" ... "Polling"). A plain line
# ends the section only with a name no parameter's description uses ("Example:" does).
_START = r"(?:(?:request|body|input|model)\s+)*(?:param(?:eter)?s|arguments|inputs?|" \
    r"request\s+body|body)(?:\s*\(.*\))?"
_HEADING_START = re.compile(_START + r"|options|fields", re.IGNORECASE)
_PLAIN_START = re.compile(_START, re.IGNORECASE)
_PLAIN_END = re.compile(r"polling|responses?(?:\s+(?:format|body|fields|parameters))?|"
                        r"error\s+codes?|authentication", re.IGNORECASE)
_HEADING_END = re.compile(
    r"(?:polling|responses?(?:\s+\w+)?|outputs?|results?|error\s+codes?|errors|"
    r"examples?(?:\s+\w+)?|authentication|authori[sz]ation|headers|notes?|pricing|"
    r"usage(?:\s+\w+)?|see\s+also)(?:\s*\(.*\))?", re.IGNORECASE)
_NAME_HEADERS = frozenset({"name", "parameter", "parameters", "param", "field", "key",
                           "parameter name", "field name", "argument", "option",
                           "property"})
# Words a prose bullet starts with ("- default: 1k"): never a parameter unless marked up.
_LABELS = frozenset({"default", "defaults", "options", "option", "range", "format",
                     "example", "examples", "note", "notes", "values", "value", "type",
                     "required", "optional", "description", "max", "min", "maximum",
                     "minimum", "limit", "limits", "e", "i", "see", "supports"})


def _bare(text: str) -> str:
    """A heading or label without its Markdown marks: ``## **Parameters:**`` -> Parameters."""
    stripped = text.strip()
    heading = _HEADING.fullmatch(stripped)
    label = heading.group(2) if heading else stripped
    return label.strip().strip("*_`:").strip()


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _table_name(cell: str) -> str | None:
    """The name in a table's name cell: marked up or bare, maybe followed by a note."""
    match = _TABLE_NAME.match(cell.replace("\\_", "_").strip())
    return match.group(1) if match else None


@dataclass
class _Reader:
    """One pass over the lines; names found in and out of a parameter section."""

    in_section: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    section: bool | None = None  # None: no section heading seen yet; False: after one ended
    section_level: int = 7
    saw_section: bool = False
    current: str | None = None  # the last parameter named: JSON keys after it are its own
    current_keys: set[str] = field(default_factory=set)
    bullet_indent: int | None = None
    table_column: int | None = None  # the name column of the table being read

    def add(self, name: str, *, child_of_bullet: bool = False) -> None:
        """A name found: a parameter, or a child of the one before it."""
        if self.section is False:
            return
        top = _top(name)
        if child_of_bullet or (top in self.current_keys and top != self.current):
            return  # a field inside the parameter before it
        target = self.in_section if self.section else self.outside
        if top not in target:
            target.append(top)
        if top != self.current:
            self.current, self.current_keys = top, set()

    def heading(self, level: int, text: str) -> bool:
        """A heading (level 7: a plain line) that starts or ends a section: True if so."""
        label = _bare(text)
        plain = level == 7
        if (_PLAIN_START if plain else _HEADING_START).fullmatch(label):
            self.section, self.section_level, self.saw_section = True, level, True
            self.current, self.bullet_indent = None, None
            return True
        ends = (_PLAIN_END if plain else _HEADING_END).fullmatch(label) or (
            self.section and not plain and level <= self.section_level)
        if ends:
            self.section, self.current = False, None
            return True
        return False


def _top(name: str) -> str:
    """``element_list[].element_id`` -> ``element_list``."""
    return re.split(r"\[\]\.?|\.", name, maxsplit=1)[0]


def parameter_names(markdown: str) -> list[str]:
    """The top-level parameter names a model document lists, in its order.

    Names are taken from a parameter section when the document has one (a heading or a
    line "Parameters"; it ends at "Response", "Polling", "Error codes" and the like, or at
    the next heading of its level); otherwise from the whole document up to such an end.
    """
    reader = _Reader()
    fence: str | None = None
    for raw in markdown.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if len(line) > _LONGEST_LINE:
            reader.table_column = None
            continue  # prose, not a parameter; and no pattern runs over a megabyte
        fenced = _FENCE.match(line)
        if fence is not None:
            if fenced and fenced.group(1)[0] == fence[0] and len(fenced.group(1)) >= len(fence):
                fence = None
            elif (key := _JSON_KEY.match(line)) and reader.current:
                reader.current_keys.add(key.group(1))
            continue
        if fenced:
            fence = fenced.group(1)
            continue
        if not line.strip():
            reader.table_column = None
            continue
        _read_line(reader, line)
    if reader.saw_section:
        return reader.in_section
    return reader.outside


def _read_line(reader: _Reader, line: str) -> None:
    stripped = line.strip()
    if stripped.startswith("|") or (reader.table_column is not None and "|" in stripped):
        _table_row(reader, stripped)
        return
    reader.table_column = None
    heading = _HEADING.fullmatch(stripped)
    if heading:
        level, text = len(heading.group(1)), heading.group(2)
        if reader.heading(level, text):
            return
        name = _lead_name(text) or _heading_name(text)
        if name and reader.section is not False:
            reader.bullet_indent = None
            reader.add(name)
        return
    if (key := _JSON_KEY.match(line)) and reader.current:
        reader.current_keys.add(key.group(1))
        return
    if not line[0].isspace() and reader.heading(7, stripped):
        return
    bullet = _BULLET.fullmatch(line)
    if bullet:
        indent = len(bullet.group(1).expandtabs(4))
        name = _lead_name(bullet.group(2))
        if name is None:
            return
        if reader.bullet_indent is None or indent <= reader.bullet_indent:
            reader.bullet_indent = indent
            reader.add(name)
        else:
            reader.add(name, child_of_bullet=True)
        return
    plain = _PLAIN.fullmatch(stripped)
    if plain:
        reader.bullet_indent = None
        reader.add(plain.group(1))
        return
    marked = re.match(r"(?:\*\*|__)?`(" + _NAME + r")`(?:\*\*|__)?(?:\s*[:(—–-]|\s+"
                      + _TYPE + r"\b|\s*$)", stripped)
    if marked:
        reader.add(marked.group(1))


def _table_row(reader: _Reader, line: str) -> None:
    cells = _cells(line)
    if all(re.fullmatch(r":?-{2,}:?", cell.replace(" ", "")) for cell in cells if cell):
        return  # the separator under a header
    if reader.table_column is None:  # a header row
        labels = [_bare(cell).lower() for cell in cells]
        reader.table_column = next((i for i, label in enumerate(labels)
                                    if label in _NAME_HEADERS), -1)
        return
    if reader.table_column < 0 or reader.table_column >= len(cells):
        return  # a table without a name column (error codes, say)
    name = _table_name(cells[reader.table_column])
    if name:
        top = _top(name)
        if top != name and top in (reader.in_section + reader.outside):
            return  # a field inside a parameter already listed
        reader.bullet_indent = None
        reader.add(name)


def _heading_name(text: str) -> str | None:
    """``### seed``: a heading that is one lower-case name is that parameter."""
    word = text.strip().strip("*_").strip()
    if re.fullmatch(_NAME, word) and word not in _LABELS and (word.islower() or "_" in word):
        return word
    return None


def _lead_name(text: str) -> str | None:
    """The parameter a bullet or heading starts with, or None for prose."""
    text = text.strip()
    marked = _LEAD_CODE.match(text) or _LEAD_BOLD.match(text)
    if marked:
        return marked.group(1)
    bare = _LEAD_BARE.match(text)
    if bare and bare.group(1) not in _LABELS and (bare.group(1).islower()
                                                  or "_" in bare.group(1)):
        return bare.group(1)
    plain = _PLAIN.fullmatch(text)
    return plain.group(1) if plain else None


# -- against the spec table -----------------------------------------------------------------

@dataclass(frozen=True)
class Coverage:
    """The document's parameters beside what kirin-jupyter knows of the model."""

    model: str
    in_spec: bool
    documented: tuple[str, ...]  # every top-level name the document lists
    known: tuple[str, ...]  # sent and checked by kirin-jupyter itself
    hinted: tuple[str, ...]  # named in the model's hinted_params: only through extra_params
    unknown: tuple[str, ...]  # not in the spec table at all
    not_listed: tuple[str, ...]  # kirin-jupyter sends them; the document does not list them

    @property
    def lacking(self) -> tuple[str, ...]:
        """What the document has that the spec table lacks as an option of its own."""
        return self.hinted + self.unknown

    def summary(self) -> str:
        """One or two sentences: what kirin-jupyter does not know yet."""
        if not self.documented:
            return (f"no parameters could be read from the document for {self.model}; "
                    "compare it with %kirin models by eye")
        if not self.in_spec:
            return (f"{self.model} is not in kirin-jupyter's spec table: none of its "
                    f"{len(self.documented)} documented parameters are known "
                    f"({', '.join(self.documented)})")
        parts = []
        if self.unknown:
            parts.append("documented parameters kirin-jupyter does not know yet: "
                         + ", ".join(self.unknown))
        if self.hinted:
            parts.append("documented parameters kirin-jupyter only passes through "
                         "unchecked (extra_params / --param NAME=VALUE): "
                         + ", ".join(self.hinted))
        if not parts:
            parts.append(f"kirin-jupyter knows every parameter the document lists for "
                         f"{self.model}")
        if self.not_listed:
            parts.append("sent by kirin-jupyter but not in the document: "
                         + ", ".join(self.not_listed))
        return "; ".join(parts)


def _spec_of(model: str) -> spec.ModelSpec | None:
    try:
        return spec.resolve_model(model)
    except KeyError:
        return None


def canonical_model(model: str) -> str:
    """The spec table's name for a name or alias it knows, else the name as given."""
    found = _spec_of(model)
    return found.name if found else model.strip()


def checked_model_name(model: Any) -> str:
    """The name to ask the gateway for: the spec table's for a name or alias it knows, else
    as given; refused (before anything is sent) unless it is a plain model id."""
    if not isinstance(model, str):
        raise ValidationError(f"a model's document needs a model name such as "
                              f"{spec.V3!r}, not {type(model).__name__}")
    name = canonical_model(model)
    if not MODEL_NAME.fullmatch(name) or name == "search":
        raise ValidationError(f"{cut(model, 60)!r} is not a model name (letters, digits, "
                              f"'_', '.', '-'); for example {spec.V3!r}")
    return name


def own_fields(model: spec.ModelSpec) -> frozenset[str]:
    """The parameters kirin-jupyter sends for ``model``: its own image field only, and a
    negative prompt only where the model takes one."""
    other = {"image", "image_list"} - {model.image_field}
    if not model.supports_negative_prompt:
        other.add("negative_prompt")
    return documented_fields(model) - other


def coverage(model: str, documented: list[str]) -> Coverage:
    """Compare a document's parameter names with the spec table's ``model``."""
    found = _spec_of(model)
    names = tuple(documented)
    if found is None:
        return Coverage(model, False, names, (), (), names, ())
    known_fields = own_fields(found)
    hinted_fields = set(found.hinted_params)
    known = tuple(n for n in names if n in known_fields)
    hinted = tuple(n for n in names if n not in known_fields and n in hinted_fields)
    unknown = tuple(n for n in names if n not in known_fields and n not in hinted_fields)
    not_listed = tuple(sorted(known_fields - set(names)))
    return Coverage(found.name, True, names, known, hinted, unknown, not_listed)


# -- what a fetch gives ---------------------------------------------------------------------

@dataclass(frozen=True)
class ModelDocument:
    """One model's document as the gateway serves it (Markdown, untrusted), and what it
    says kirin-jupyter lacks. Shown rendered in a notebook; ``str()`` is its plain text."""

    model: str
    text: str
    host: str
    fetched_at: float = field(default_factory=time.time)
    cached: bool = False  # read from KIRIN_HOME, not fetched now

    @cached_property
    def parameters(self) -> list[str]:
        return parameter_names(self.text)

    @cached_property
    def coverage(self) -> Coverage:
        return coverage(self.model, self.parameters)

    def __repr__(self) -> str:
        lacking = self.coverage.lacking
        tail = (f", lacks {', '.join(lacking)}" if lacking and self.coverage.in_spec else
                ", not in the spec table" if not self.coverage.in_spec else "")
        return (f"ModelDocument({self.model!r}, {len(self.text)} chars from {self.host}"
                f"{' (cached)' if self.cached else ''}{tail})")

    def __str__(self) -> str:
        return str(renderers.render("model_doc_text", self, fallback=lambda: self.text))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str | None:
        return renderers.html("model_doc_html", self)

    def _repr_markdown_(self) -> str | None:
        shown = renderers.render("model_doc_markdown", self, fallback=lambda: None)
        return None if shown is None else str(shown)


@dataclass(frozen=True)
class ModelHit:
    """One model the gateway's search lists."""

    id: str
    name: str = ""
    provider: str = ""
    input: str = ""
    output: str = ""
    media_type: str = ""
    tags: tuple[str, ...] = ()

    @property
    def in_spec(self) -> bool:
        return self.id in spec.MODELS


@dataclass(frozen=True)
class ModelList:
    """The gateway's models for a search (``q=kirin``), beside the spec table."""

    query: str
    hits: tuple[ModelHit, ...]
    host: str
    fetched_at: float = field(default_factory=time.time)
    cached: bool = False

    @property
    def not_in_spec(self) -> tuple[str, ...]:
        return tuple(hit.id for hit in self.hits if not hit.in_spec)

    def __repr__(self) -> str:
        return (f"ModelList({self.query!r}, {len(self.hits)} models from {self.host}"
                f"{' (cached)' if self.cached else ''})")

    def __str__(self) -> str:
        return str(renderers.render("model_list_text", self,
                                    fallback=lambda: " ".join(h.id for h in self.hits)))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str | None:
        return renderers.html("model_list_html", self)

    def _repr_markdown_(self) -> str | None:
        shown = renderers.render("model_list_markdown", self, fallback=lambda: None)
        return None if shown is None else str(shown)
