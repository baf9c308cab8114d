"""The one widget every live card is: an anywidget, so the same card moves in JupyterLab,
Notebook 7, VS Code and marimo (which renders anywidgets but no other ipywidgets).

It holds the card's HTML without its moving parts (``frame``) and the moving parts apart:
the bar's fraction (``progress``) and the status line (``status``). A tick of a running job
changes only those two, so it sends a few dozen bytes, not the whole card again; the
browser patches the bar and the line in place, so nothing jumps. When anything else
changes (the state, the task id), the frame is sent again and redrawn.

A finished card with image tiles (``tile_card.py``) keeps the widget: each tile's marks
slot gets star and pick/reject buttons (``mark_buttons.py``) drawn from ``marks``, and a
click is a message to Python (``on_mark``), as the Cancel button's is (``on_cancel``).

``html`` is the card as the browser shows it now (the marks as static text); it is also
the widget's ``text/html`` picture, which a reader without the widget (nbconvert, GitHub)
sees instead, unless that picture is an output of its own (``apart``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from . import theme
from .mark_buttons import JS as MARK_JS
from .marks import fill_slots

log = logging.getLogger("kirin_jupyter")

# Runs in the front end. The frame is HTML made by static.py, every user or service text in
# it escaped there; the bar and the status line are found by their classes.
ESM = MARK_JS + """
function render({ model, el }) {
  const patch = () => {
    if (!model.get("patched")) return;
    const percent = Math.max(0, Math.min(1, model.get("progress"))) * 100;
    const bar = el.querySelector(".kirin-bar");
    if (bar) bar.setAttribute("aria-valuenow", percent.toFixed(0));
    const fill = el.querySelector(".kirin-bar-fill");
    if (fill) fill.style.width = percent.toFixed(1) + "%";
    const foot = el.querySelector(".kirin-foot");
    if (foot) foot.innerHTML = model.get("status");
  };
  const controls = () => {
    // A Cancel button in the card's head row, shaped like its pills, so that it comes
    // and goes without the card changing height (nothing below it moves). A click asks
    // Python (on_msg); its one-line answer is a note at the card's foot.
    const card = el.querySelector(".kirin-card") || el;
    const head = el.querySelector(".kirin-head") || card;
    let button = el.querySelector(".kirin-cancel");
    if (model.get("cancellable") && !button) {
      button = document.createElement("button");
      button.className = "kirin-cancel";
      button.type = "button";
      button.textContent = "Cancel";
      button.title = "cancel this job (the queue protocol cancels it at the service)";
      button.style.cssText = "__BUTTON_CSS__";
      button.addEventListener("click", () => model.send({ event: "cancel" }));
      head.append(button);
    } else if (!model.get("cancellable") && button) {
      button.remove();
    }
    let note = el.querySelector(".kirin-cancel-note");
    if (model.get("note") && !note) {
      note = document.createElement("div");
      note.className = "kirin-cancel-note";
      note.style.cssText = "color:__MUTED__;font-size:12px;overflow-wrap:anywhere";
      card.append(note);
    }
    if (note) note.textContent = model.get("note");
  };
  const marks = () => markButtons(model, el);
  const draw = () => { el.innerHTML = model.get("frame"); patch(); controls(); marks(); };
  model.on("change:frame", draw);
  model.on("change:marks", marks);
  model.on("change:progress", patch);
  model.on("change:status", patch);
  model.on("change:cancellable", controls);
  model.on("change:note", controls);
  draw();
}
export default { render };
""".replace("__BUTTON_CSS__", (
    f"font:inherit;font-size:12px;line-height:inherit;padding:0 8px;margin:0 0 0 4px;"
    f"border-radius:10px;cursor:pointer;color:{theme.TEXT};background:{theme.SURFACE};"
    f"border:1px solid {theme.BORDER}")
).replace("__MUTED__", theme.MUTED)


class LiveView(anywidget.AnyWidget):
    """A card whose frame is redrawn only when it changes; its bar and line are patched."""

    _esm = ESM
    frame = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    # A job's card: its bar and line are patched. A group's card is all frame.
    patched = traitlets.Bool(False).tag(sync=True)
    # A Cancel button while set; a click sends {"event": "cancel"}, answered in ``note``
    # (plain text) by ``on_cancel``'s one line.
    cancellable = traitlets.Bool(False).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    # A finished card's tiles, by their slot's number: [rating, flag] each (null when
    # none). Buttons in each slot send {"event": "rate" | "flag", ...} to ``on_mark``,
    # whose answer (None: not a click it knows; "" when done; else why not) goes to
    # ``note``.
    marks: traitlets.List[list[Any]] = traitlets.List().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_cancel: Callable[[], str] | None = None
        self.on_mark: Callable[[Any], str | None] | None = None
        self.apart = False  # its picture for readers without widgets is another output
        self.on_msg(self._from_front_end)

    def _from_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A message from the card in the browser (untrusted): ``{"event": "cancel"}``,
        or a tile's click, which ``on_mark`` checks; anything else is ignored."""
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "cancel":
            self._cancel()
        elif event in ("rate", "flag") and self.on_mark is not None:
            try:
                said = self.on_mark(content)
            except Exception as exc:  # a failed mark is said on the card, never raised
                log.exception("a tile's mark failed")
                said = f"not marked: {exc}"
            if said is not None:
                self.note = said

    def _cancel(self) -> None:
        if self.on_cancel is None or not self.cancellable:
            return
        try:
            self.note = self.on_cancel()
        except Exception as exc:  # a failed cancel is said on the card, never raised
            self.note = f"cancel failed: {exc}"

    @classmethod
    def drawn(cls, frame: str, progress: float | None = None, status: str = "",
              **widget: Any) -> LiveView:
        """A card opened with its first drawing (one message to the front end, not two)."""
        return cls(frame=frame, progress=progress or 0.0, status=status,
                   patched=progress is not None, _dom_classes=("kirin-live",), **widget)

    def show(self, frame: str, progress: float | None = None, status: str = "") -> None:
        """Set what the card shows (with a ``progress``, its bar and line are patched into
        the frame); only what changed is sent (traitlets compare)."""
        with self.hold_sync():
            self.patched = progress is not None
            if frame != self.frame:
                self.frame = frame
            self.progress = progress or 0.0
            self.status = status

    @property
    def html(self) -> str:
        """The card as the browser shows it: the frame with the bar and the line in place,
        and the tiles' marks as static text."""
        html = compose(self.frame, self.progress, self.status) if self.patched else self.frame
        if self.marks:
            html = fill_slots(html, [(rating, flag) for rating, flag in self.marks])
        return html

    def clear(self) -> None:
        """Empty the card before it is closed: a saved notebook keeps no dead HTML."""
        with self.hold_sync():
            self.frame, self.status, self.marks = "", "", []

    def __repr__(self) -> str:  # anywidget's is object's: "<... object at 0x7f...>"
        return f"Kirin live card ({len(self.frame)} characters of HTML)"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus its picture as HTML for readers without widgets; with the
        picture ``apart``, nothing else (the widget's repr would be a second notice)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict) and self.apart:
            data["text/plain"] = ""
            data.pop("text/html", None)
        elif isinstance(data, dict) and self.frame:
            data["text/html"] = self.html
        return bundle


BAR_FILL = 'class="kirin-bar-fill" style="width:'
BAR_VALUE = 'role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="'
FOOT = '<div class="kirin-foot" style="font-size:12px">'


def compose(frame: str, progress: float, status: str) -> str:
    """What ``ESM`` draws, in Python: the frame's bar set to ``progress`` and its footer to
    ``status`` (a frame without a bar or a footer keeps its own)."""
    percent = max(0.0, min(1.0, progress)) * 100
    html = _set_after(frame, BAR_VALUE, f"{percent:.0f}", '"')
    html = _set_after(html, BAR_FILL, f"{percent:.1f}%", ";")
    return _set_after(html, FOOT, status, "</div>")


def _set_after(html: str, marker: str, value: str, end: str) -> str:
    start = html.find(marker)
    if start < 0:
        return html
    start += len(marker)
    stop = html.find(end, start)
    return html if stop < 0 else html[:start] + value + html[stop:]
