"""Reference images: where they come from (upload, path or URL, variable, earlier result),
the list with its actions, and the limits on how many there may be.

The list is shared state: button callbacks may run on several threads (JupyterLab comm
subshells), so every change happens under the panel's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import KirinError
from ..model import spec
from . import references as refs
from .grid import button_layout, field, grow
from .reference_row import ReferenceRow
from .references import Reference
from .style import BAD, OK, note, show

Context = Callable[[], tuple[spec.ModelSpec, int]]  # the model and how many elements


class ReferencesSection:
    """Owns the list of ``Reference``; tells the panel when it changed."""

    def __init__(self, lock: threading.RLock, namespace: Mapping[str, Any] | None,
                 context: Context, on_change: Callable[[], None],
                 on_insert: Callable[[int], None],
                 on_renumber: Callable[[dict[int, int | None]], None]) -> None:
        import ipywidgets as w

        self._lock = lock
        self._namespace = namespace
        self._context = context
        self._on_change = on_change
        self._on_insert = on_insert
        self._on_renumber = on_renumber
        self._items: list[Reference] = []
        self._rows: dict[int, ReferenceRow] = {}
        self.heading = w.HTML(layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.upload = w.FileUpload(accept=",".join(spec.IMAGE_SUFFIXES), multiple=True,
                                   description="Upload", layout=button_layout())
        self.upload.add_class("kirin-upload")
        self.upload.observe(self._uploaded, names="value")
        self.source = w.Text(placeholder="path/to/image.png or https://…/image.jpg",
                             layout=grow("160px"))
        self.add_source = w.Button(description="Add path or URL", layout=button_layout())
        self.add_source.on_click(self._add_typed)
        self.variable = w.Dropdown(layout=grow("200px", max_width="320px"),
                                   tooltip="PIL images and numpy arrays in the notebook")
        self.refresh_variables = w.Button(description="↻", tooltip="look for PIL images and "
                                          "numpy arrays in the notebook again",
                                          layout=button_layout(min_width="36px"))
        self.refresh_variables.on_click(lambda _b: self.list_variables())
        self.add_variable = w.Button(description="Add variable", layout=button_layout())
        self.add_variable.on_click(self._add_from_variable)
        self.message = w.HTML(layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.message.add_class("kirin-reference-message")
        self.rows = w.VBox([], layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.widget = w.VBox([
            field("References", self.heading, self.upload, self.source, self.add_source),
            field("Variable", self.variable, self.refresh_variables, self.add_variable),
            field("", self.message, self.rows),
        ])
        self.widget.add_class("kirin-references")
        self.list_variables()

    # -- reading ---------------------------------------------------------------------------

    @property
    def items(self) -> tuple[Reference, ...]:
        with self._lock:
            return tuple(self._items)

    # -- adding ----------------------------------------------------------------------------

    def add(self, new: list[Reference], source: str = "") -> bool:
        """Add images within the limits; v3's one image is replaced, omni's list grows."""
        with self._lock:
            model, elements = self._context()
            room = refs.capacity(model, len(self._items), elements)
            taken, left = new[:room], new[room:]
            replaced: list[str] = []
            if model.max_images == 1 and taken:
                replaced = [r.label for r in self._items]
                for old in self._items:
                    self._rows.pop(old.key, None)
                self._items = []
            self._items.extend(taken)
            parts = []
            if taken:
                instead = f" in place of {', '.join(replaced)} ({model.name} takes one " \
                    "reference image)" if replaced else ""
                parts.append(f"added {_labels(taken)}{source}{instead}")
            if left:
                one_only = model.max_images == 1 and room > 0  # not room taken by elements
                limit = f"{model.name} takes one reference image" if one_only \
                    else f"at most {spec.MAX_REFERENCES} images and elements in total"
                parts.append(f"not added: {_labels(left)} ({limit})")
            self._say("; ".join(parts), BAD if left else OK)
            self._render()
        self._on_change()
        return bool(taken)

    def add_result(self, path: Path) -> bool:
        """The gallery's "use as reference"."""
        return self._add_made(lambda: [refs.from_result(path)], " from the results")

    def _add_made(self, make: Callable[[], list[Reference]], source: str = "") -> bool:
        try:
            made = make()
        except (KirinError, OSError) as exc:
            with self._lock:
                self._say(f"not added: {exc}", BAD)
            return False
        return self.add(made, source)

    def _uploaded(self, change: Any) -> None:
        files = list(change["new"] or ())
        if not files:
            return
        made: list[Reference] = []
        problems: list[str] = []
        for item in files:
            try:
                made.append(refs.from_upload(str(item["name"]), item["content"]))
            except KirinError as exc:
                problems.append(f"{item['name']}: {exc}")
        self.upload.value = ()  # the widget keeps no copy; the list is the one place
        if made:
            self.add(made)
        if problems:
            with self._lock:
                self._say("not added: " + "; ".join(problems), BAD)

    def _add_typed(self, _button: Any = None) -> None:
        if self._add_made(lambda: [refs.from_text(self.source.value)]):
            self.source.value = ""

    def list_variables(self) -> None:
        """The notebook's PIL images and arrays, looked up now (the ↻ button asks again)."""
        names = refs.image_like_names(self._namespace or {})
        current = self.variable.value
        self.variable.options = names or [("(no image variables yet)", "")]
        self.variable.value = current if current in names else (names[0] if names else "")
        self.variable.disabled = not names
        with self._lock:
            self._render()

    def _add_from_variable(self, _button: Any = None) -> None:
        name = self.variable.value
        namespace = self._namespace or {}
        if not name or name not in namespace:
            with self._lock:
                self._say(f"no variable named {name!r}; click ↻ to look again", BAD)
            return
        self._add_made(lambda: [refs.from_variable(name, namespace[name])])

    # -- row actions -----------------------------------------------------------------------

    def _index(self, key: int) -> int | None:
        for index, ref in enumerate(self._items):
            if ref.key == key:
                return index
        return None

    def fit(self, key: int) -> None:
        with self._lock:
            index = self._index(key)
            if index is None:
                return
            ref = self._items[index]
        try:  # seconds of Pillow work: outside the lock, which the engine thread also takes
            mended = refs.fitted(ref)
        except KirinError as exc:
            with self._lock:
                self._say(str(exc), BAD)
            return
        with self._lock:
            index = self._index(key)
            if index is None:  # removed while it was being mended
                return
            self._items[index] = mended
            self._rows.pop(key, None)  # new pixels, new thumbnail and badge
            self._say(f"{ref.label}: {mended.mended}", OK if mended.ok else BAD)
            self._render()
        self._on_change()

    def remove(self, key: int) -> None:
        with self._lock:
            index = self._index(key)
            if index is None:
                return
            gone = self._items.pop(index)
            self._rows.pop(key, None)
            number = index + 1
            mapping: dict[int, int | None] = {number: None}
            mapping.update({n: n - 1 for n in range(number + 1, len(self._items) + 2)})
            self._say(f"removed {gone.label}", OK)
            self._render()
        self._renumber(mapping)
        self._on_change()

    def move(self, key: int, delta: int) -> None:
        with self._lock:
            index = self._index(key)
            if index is None or not 0 <= index + delta < len(self._items):
                return
            other = index + delta
            self._items[index], self._items[other] = self._items[other], self._items[index]
            self._render()
        self._renumber({index + 1: other + 1, other + 1: index + 1})
        self._on_change()

    def insert(self, key: int) -> None:
        with self._lock:
            index = self._index(key)
        if index is not None:
            self._on_insert(index + 1)

    def _renumber(self, mapping: dict[int, int | None]) -> None:
        """Placeholders follow their image (only omni has them)."""
        model, _ = self._context()
        if model.supports_image_placeholders:
            self._on_renumber(mapping)

    # -- showing ---------------------------------------------------------------------------

    def set_model(self, model: spec.ModelSpec) -> None:
        with self._lock:
            self.upload.multiple = model.max_images > 1
            self._render()

    def refresh(self) -> None:
        """Re-apply the limits (the number of elements may have changed)."""
        with self._lock:
            self._render()

    def _say(self, text: str, colour: str) -> None:
        self.message.value = note(text, colour) if text else ""

    def _render(self) -> None:
        """Rows in list order, numbered; called with the lock held."""
        model, elements = self._context()
        if model.max_images == 1:
            heading = note(f"{model.alias} takes one, for image-to-image (adding another "
                           f"replaces it); {rules_text()}")
        else:
            heading = note(f"{len(self._items)} of up to {spec.MAX_REFERENCES}; name them "
                           f"<<<image_N>>> in the prompt; {rules_text()}")
        self.heading.value = heading
        rows = []
        for number, ref in enumerate(self._items, start=1):
            row = self._rows.get(ref.key)
            if row is None:
                row = ReferenceRow(ref, on_fit=self.fit, on_remove=self.remove,
                                   on_move=self.move, on_insert=self.insert)
                self._rows[ref.key] = row
            row.update(ref, number, len(self._items), model.supports_image_placeholders)
            rows.append(row.widget)
        self.rows.children = tuple(rows)
        room = refs.capacity(model, len(self._items), elements)
        full = room == 0
        self.upload.disabled = self.add_source.disabled = full
        self.add_variable.disabled = full or not self.variable.value
        show(self.rows, bool(rows))


def rules_text() -> str:
    """The documents' image rules in words, from the same constants the checks use."""
    formats = "/".join(spec.IMAGE_SUFFIXES)
    megabytes = spec.IMAGE_MAX_BYTES // (1024 * 1024)
    return (f"{formats}, at most {megabytes} MB, sides at least {spec.IMAGE_MIN_SIDE} px, "
            f"ratio 1:{spec.IMAGE_MAX_RATIO:g} to {spec.IMAGE_MAX_RATIO:g}:1")


def _labels(items: list[Reference]) -> str:
    return ", ".join(r.label for r in items)
