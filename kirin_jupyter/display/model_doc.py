"""``%kirin models --live`` and ``kirin.model_doc()``: the gateway's model documents shown.

The document is Markdown from the network, so nothing of it reaches a front end as markup
it wrote: the HTML form is drawn here from a small Markdown subset (headings, paragraphs,
lists, tables, code, bold, http(s) links) with every piece of text escaped; the Markdown
form (for front ends that prefer it) has its raw HTML, images and non-web links
neutralised; the text form (terminals) has its control characters removed. Above each
document, what it lists that kirin-jupyter does not know yet.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from . import css
from .tables import Cell, html_table, mono, plain, terminal_width, text_table

if TYPE_CHECKING:
    from ..model.model_doc import Coverage, ModelDocument, ModelList

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FENCE = re.compile(r"\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*")
_BULLET = re.compile(r"(\s*)([-*+]|\d{1,3}[.)])\s+(.*)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^()\s]*)\)")
_WEB = re.compile(r"https?://", re.IGNORECASE)
_NOT_WEB_TARGET = re.compile(r"\]\((?!\s*https?://)", re.IGNORECASE)
_DEFINITION = re.compile(r"(\s{0,3})(\[[^\]]+\]:)")


def clean_text(text: str) -> str:
    """Text as a terminal may print it: no escape sequences, no other control characters
    (tabs and line ends kept), no bidirectional overrides that reorder what is read."""
    return "".join(ch for ch in text.replace("\r\n", "\n")
                   if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI))


def _when(doc_time: float, cached: bool) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(doc_time))
    again = " (cached for a day; ask again: --refresh, refresh=True)"
    return f"fetched {stamp}" + (again if cached else "")


# -- the comparison ------------------------------------------------------------------------

def coverage_lines(coverage: Coverage) -> list[str]:
    """What a document lists that kirin-jupyter lacks, as short plain lines."""
    if not coverage.documented:
        return [f"no parameters could be read from this document for {coverage.model}"]
    if not coverage.in_spec:
        return [f"{coverage.model} is not in kirin-jupyter's spec table: it cannot generate "
                f"with it yet; the document lists {', '.join(coverage.documented)}"]
    lines = []
    if coverage.unknown:
        lines.append("not known to kirin-jupyter yet: " + ", ".join(coverage.unknown))
    if coverage.hinted:
        lines.append("not an option of kirin-jupyter (sent only unchecked, with --param "
                     "NAME=VALUE or extra_params): " + ", ".join(coverage.hinted))
    if not lines:
        lines.append(f"kirin-jupyter knows every parameter this document lists for "
                     f"{coverage.model}")
    if coverage.not_listed:
        lines.append("sent by kirin-jupyter, not in this document: "
                     + ", ".join(coverage.not_listed))
    return lines


# -- the document as text -------------------------------------------------------------------

def doc_text(doc: ModelDocument) -> str:
    width = min(terminal_width(), 100)
    head = [f"{doc.model}: the gateway's document, from {doc.host}, "
            f"{_when(doc.fetched_at, doc.cached)}", *coverage_lines(doc.coverage)]
    return "\n".join([*head, "-" * width, clean_text(doc.text).strip()])


# -- the document as Markdown ---------------------------------------------------------------

def safe_markdown(text: str) -> str:
    """Markdown that renders as the document reads, but can start nothing: raw HTML shows
    as text (``<`` escaped outside code), images become links, links go only to http(s)."""
    out = []
    fence: str | None = None
    for line in clean_text(text).split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            out.append(line)
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            continue
        line = _DEFINITION.sub(r"\1\\\2", line)  # [name]: javascript:... is no link
        out.append(_outside_code(line, _safe_inline_markdown))
    if fence is not None:
        out.append(fence)  # an unclosed fence would swallow what follows it
    return "\n".join(out)


def _outside_code(line: str, change: Callable[[str], str]) -> str:
    parts, last = [], 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(change(line[last:span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(change(line[last:]))
    return "".join(parts)


def _safe_inline_markdown(text: str) -> str:
    """Outside code: ``<`` as text; no image (``![``); a link's target only http(s)
    (any other ``](`` is escaped, whatever its parentheses hold)."""
    text = text.replace("<", "&lt;").replace("![", "!\\[")
    return _NOT_WEB_TARGET.sub(r"]\\(", text)


def doc_markdown(doc: ModelDocument) -> str:
    notes = "\n".join(f"> {_md_escape(line)}  " for line in coverage_lines(doc.coverage))
    return (f"**{_md_escape(doc.model)}**: the gateway's document, from "
            f"{_md_escape(doc.host)}, {_when(doc.fetched_at, doc.cached)}\n\n{notes}\n\n"
            f"---\n\n{safe_markdown(doc.text)}\n")


def _md_escape(text: str) -> str:
    """Plain text inside Markdown: every mark escaped, no HTML."""
    flat = " ".join(clean_text(text).split())
    return re.sub(r"([\\`*_{}\[\]()#+!|>~-])", r"\\\1", flat).replace("<", "&lt;")


# -- the document as HTML -------------------------------------------------------------------

def _inline_html(text: str) -> str:
    """One line's inline Markdown as HTML; every character of it escaped first."""
    parts, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_marks_html(text[last:span.start()]))
        parts.append(f'<code class="kirin-mono">{escape(span.group(2))}</code>')
        last = span.end()
    parts.append(_marks_html(text[last:]))
    return "".join(parts)


def _marks_html(text: str) -> str:
    out, last = [], 0
    for match in _LINK.finditer(text):
        out.append(_bold_html(text[last:match.start()]))
        bang, label, url = match.groups()
        if not bang and _WEB.match(url):
            out.append(f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">'
                       f"{_bold_html(label)}</a>")
        else:  # an image is never loaded, another scheme never followed
            out.append(_bold_html(f"{label} ({url})" if url else label))
        last = match.end()
    out.append(_bold_html(text[last:]))
    return "".join(out)


def _bold_html(text: str) -> str:
    safe = escape(text)
    return re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: f"<b>{m.group(1) or m.group(2)}</b>",
                  safe)


def _table_html(rows: list[list[str]]) -> str:
    head, body = rows[0], rows[1:]
    cells = "".join(f"<th>{_inline_html(cell)}</th>" for cell in head)
    lines = "".join("<tr>" + "".join(f"<td>{_inline_html(cell)}</td>" for cell in row)
                    + "</tr>" for row in body)
    return f'<table class="kirin-doc-table"><thead><tr>{cells}</tr></thead>' \
        f"<tbody>{lines}</tbody></table>"


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def markdown_html(text: str) -> str:
    """The document's Markdown as HTML, every text escaped (nothing of it is markup)."""
    lines = clean_text(text).split("\n")
    out: list[str] = []
    para: list[str] = []
    index = 0

    def flush() -> None:
        if para:
            out.append("<p>" + "<br>".join(_inline_html(p) for p in para) + "</p>")
            para.clear()

    while index < len(lines):
        line = lines[index].rstrip()
        stripped = line.strip()
        opened = _FENCE.match(line)
        if opened:
            flush()
            fence, code = opened.group(1), []
            index += 1
            while index < len(lines):
                closing = _FENCE.match(lines[index])
                if closing and closing.group(1)[0] == fence[0] \
                        and len(closing.group(1)) >= len(fence):
                    break
                code.append(lines[index])
                index += 1
            out.append(f'<pre class="kirin-doc-code">{escape(chr(10).join(code))}</pre>')
            index += 1
            continue
        if stripped.startswith("|") and index + 1 < len(lines) and re.fullmatch(
                r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?", lines[index + 1].strip()):
            flush()
            rows = [_cells(line)]
            index += 2
            while index < len(lines) and lines[index].strip().startswith("|"):
                rows.append(_cells(lines[index]))
                index += 1
            out.append(_table_html(rows))
            continue
        heading = _HEADING.fullmatch(stripped)
        bullet = _BULLET.fullmatch(line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f'<div class="kirin-doc-h kirin-doc-h{min(level, 4)}">'
                       f"{_inline_html(heading.group(2))}</div>")
        elif bullet:
            flush()
            depth = len(bullet.group(1).expandtabs(4)) // 2
            mark = "•" if bullet.group(2) in "-*+" else escape(bullet.group(2))
            out.append(f'<div class="kirin-doc-li" style="padding-left:{1 + depth}em">'
                       f"{mark} {_inline_html(bullet.group(3))}</div>")
        elif not stripped:
            flush()
        elif re.fullmatch(r"(\*\s*){3,}|(-\s*){3,}|(_\s*){3,}", stripped):
            flush()
            out.append('<hr class="kirin-doc-rule">')
        else:
            para.append(stripped)
        index += 1
    flush()
    return "".join(out)


def doc_html(doc: ModelDocument) -> str:
    lacking = doc.coverage.lacking if doc.coverage.in_spec else doc.coverage.documented
    pills = " ".join(css.pill(name) for name in lacking)
    notes = "".join(f'<div class="kirin-sub">{escape(line)}</div>'
                    for line in coverage_lines(doc.coverage))
    return (f'<div class="kirin kirin-card kirin-doc">{css.style("card", "doc")}'
            f'<div class="kirin-head"><b>{escape(doc.model)}</b>'
            f'<span class="kirin-muted">the gateway\'s document</span>'
            f'<span class="kirin-id">{escape(doc.host)}, '
            f"{escape(_when(doc.fetched_at, doc.cached))}</span></div>"
            f'<div class="kirin-doc-gaps">{notes}'
            f'{f"<div>{pills}</div>" if pills else ""}</div>'
            f'<div class="kirin-doc-body">{markdown_html(doc.text)}</div></div>')


# -- the list -------------------------------------------------------------------------------

_LIST_HEADERS = ("model", "name", "provider", "input → output", "in kirin-jupyter")


def _list_rows(models: ModelList) -> list[tuple[str, str, str, str, str]]:
    return [(hit.id, hit.name, hit.provider,
             f"{hit.input or '?'} → {hit.output or '?'}" if hit.input or hit.output else "",
             "yes" if hit.in_spec else "no: not in the spec table") for hit in models.hits]


def _list_note(models: ModelList) -> str:
    source = f"the gateway's models for {models.query!r}, from {models.host}, " \
        f"{_when(models.fetched_at, models.cached)}"
    return f"{source}; a model's document: %kirin models --live MODEL"


def list_text(models: ModelList) -> str:
    rows = [[clean_text(cell) for cell in row] for row in _list_rows(models)]
    if not rows:
        return f"the gateway lists no models for {models.query!r} ({models.host})"
    table = text_table(_LIST_HEADERS, rows, width=min(terminal_width(), 100))
    return f"{table}\n\n{clean_text(_list_note(models))}"


def list_html(models: ModelList) -> str:
    rows = [[Cell(mono(row[0]), row[0]), *(plain(cell) for cell in row[1:])]
            for row in _list_rows(models)]
    return html_table(_LIST_HEADERS, rows, note=_list_note(models),
                      css_class="kirin-models")


def list_markdown(models: ModelList) -> str:
    head = "| " + " | ".join(_LIST_HEADERS) + " |\n|" + "---|" * len(_LIST_HEADERS) + "\n"
    rows = "".join("| " + " | ".join(_md_escape(cell) for cell in row) + " |\n"
                   for row in _list_rows(models))
    return f"{head}{rows}\n{_md_escape(_list_note(models))}\n"
