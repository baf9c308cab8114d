"""The panel's results: a thumbnail grid per run and what can be done with each image.

Tiles are made when a run starts (on the thread of the Generate click), so that when it
ends the engine thread only sets values: the thumbnail, the caption, enabled buttons. A tile
waits as a skeleton of the picture's own size and place (never an empty image, which
browsers draw as a broken-image icon): the request's aspect ratio at the tile's picture
height, at the tile's left edge, where the caption and the buttons start too. The picture
lands on it, so nothing jumps when the images arrive.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.images import describe_size
from .compare_pick import ComparePicker
from .copy_code import code_html
from .css import skeleton
from .grid import button_layout, grow
from .style import BAD, OK, note, show
from .thumbs import GALLERY_SIDE, VIEWER_SIDE, jpeg_of_file

if TYPE_CHECKING:
    from ..engine.job import Job
    from ..model.request import GenerationRequest

STAR_CHOICES: list[tuple[str, int]] = [("stars…", -1), ("☆☆☆☆☆ 0", 0)] + [
    ("★" * n + "☆" * (5 - n), n) for n in range(1, 6)]
FLAG_CHOICES = [("–", ""), ("pick", "picked"), ("reject", "rejected")]
TILE_SIDE = 180  # px: a tile's picture height (css.py makes it 120 in a narrow panel)
TILE_MIN_WIDTH = 210  # px: four in a row at 960 px, the four buttons on one line
VIEWER_MAX = "560px"  # the full-size view never takes more than this in either direction
_CONVERTIBLE = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


class Tile:
    """One result slot: a skeleton, then the thumbnail, a caption and four actions."""

    def __init__(self, job: Job, index: int, gallery: Gallery) -> None:
        import ipywidgets as w

        self.job = job
        self.index = index
        self.path: Path | None = None
        self.ratio = ratio = expected_ratio(job.request)
        self.placeholder = w.HTML(skeleton(picture_width(ratio), ratio))
        self.placeholder.add_class("kirin-placeholder")  # no padding: the picture's place
        self.image = w.Image(format="jpeg", layout=w.Layout(
            width=_image_width(ratio), height="auto", align_self="flex-start"))
        show(self.image, False)
        self.caption = w.HTML(note(f"image {index + 1} on its way…"))
        self.view = w.Button(description="view", tooltip="view larger", layout=button_layout())
        self.save = w.Button(description="save…", tooltip="save a copy to a path you choose",
                             layout=button_layout())
        self.use = w.Button(description="reuse",
                            tooltip="use this image as a reference image",
                            layout=button_layout())
        self.code = w.Button(description="code",
                             tooltip="the %%kirin cell that makes this same request",
                             layout=button_layout())
        self.buttons = (self.view, self.save, self.use, self.code)
        self.pick = w.ToggleButton(description="compare", tooltip="choose two results, "
                                   "then Compare (under the results)", disabled=True,
                                   layout=button_layout())
        # Stars and pick/reject: kept in the journal and the file's XMP (storage/marks.py)
        self.stars = w.Dropdown(options=STAR_CHOICES, value=-1, disabled=True,
                                description="", tooltip="rate 0-5 stars",
                                layout=w.Layout(width="92px"))
        self.flag = w.ToggleButtons(options=FLAG_CHOICES, value="", disabled=True,
                                    tooltips=["neither", "picked: export(..., picked=True)",
                                              "rejected: %kirin cull moves it aside"],
                                    style={"button_width": "52px"})
        self.flag.add_class("kirin-flag")
        self.mark_note = w.HTML("")
        show(self.mark_note, False)  # until a mark is made: no empty row under the tile
        self.stars.observe(lambda change: self._marked(rating=change["new"]), names="value")
        self.flag.observe(lambda change: self._marked(flag=change["new"]), names="value")
        self.pick.add_class("kirin-pick")
        self.pick.observe(lambda change: gallery.picker.toggled(
            self.pick, self.path, bool(change["new"])), names="value")
        for button, action in zip(self.buttons, (gallery.view, gallery.ask_save,
                                                 gallery.use, gallery.show_code_for),
                                  strict=True):
            button.disabled = True
            button.on_click(lambda _b, act=action: act(self))
        self.widget = w.VBox(
            [self.placeholder, self.image, self.caption,
             w.HBox([*self.buttons, self.pick, self.stars, self.flag],
                    layout=w.Layout(flex_flow="row wrap")),
             self.mark_note],
            layout=w.Layout(min_width="0"))
        self.widget.add_class("kirin-tile")

    def fill(self, path: Path, kind: str) -> None:
        """Engine thread: values only."""
        self.path = path
        size = describe_size(path.stat().st_size) if path.exists() else "missing"
        if kind == "image":
            thumbnail = jpeg_of_file(path, GALLERY_SIDE)
            ratio = _ratio_of(thumbnail)
            if ratio is not None and abs(ratio / self.ratio - 1) > 0.02:
                # not the ratio asked for (a service may not keep it; or 'auto'): as made.
                # Within 2 % it is the thumbnail's rounding, and the skeleton's box stays.
                self.image.layout.width = _image_width(ratio)
            self.image.value = thumbnail
            show(self.image, True)
        show(self.placeholder, False)
        self.caption.value = (f'<span title="{escape(str(path))}">'
                              f"{note(f'{path.name} · {size}')}</span>")
        self.save.disabled = self.code.disabled = False
        self.view.disabled = self.use.disabled = kind != "image"  # a video is saved, not shown
        self.pick.disabled = kind != "image"
        self.stars.disabled = self.flag.disabled = kind != "image"
        self.widget.add_class("kirin-tile-done")

    def _marked(self, *, rating: int | None = None, flag: str | None = None) -> None:
        """A star or a pick/reject clicked: the job's result marks this image (journal,
        and the file's XMP unless provenance is off); a problem is said under the tile."""
        from ..errors import KirinError

        result = self.job.result
        if result is None or (rating is None and flag is None) or rating == -1:
            return
        try:
            if rating is not None:
                done = result.rate(rating, image=self.index)
            elif flag:
                done = result.pick(self.index) if flag == "picked" else \
                    result.reject(self.index)
            else:
                done = result.unmark(self.index)
        except (KirinError, OSError) as exc:
            self.mark_note.value = note(str(exc), BAD)
            show(self.mark_note, True)
            return
        where = "in the journal and the file" if done[0].in_file else "in the journal"
        self.mark_note.value = note(f"kept {where}")
        show(self.mark_note, True)


def expected_ratio(request: GenerationRequest) -> float:
    """Width over height of the pictures ``request`` will make: its aspect ratio, or for
    ``auto`` the first reference image's (square when that is not known)."""
    width, _, height = request.aspect_ratio.partition(":")
    if width.isdigit() and height.isdigit() and int(height):
        return int(width) / int(height)
    for image in request.images:
        if image.facts is not None and image.facts.height:
            return image.facts.width / image.facts.height
    return 1.0


def picture_width(ratio: float, room: str = "100%") -> str:
    """A picture box's CSS width: the tile's picture height times ``ratio``, at most
    ``room``, the width there is (then the height follows the ratio down)."""
    ratio = min(max(ratio, 0.2), 5.0)
    return f"min({room}, var(--kirin-tile-side, {TILE_SIDE}px) * {ratio:.4f})"


def _image_width(ratio: float) -> str:
    """The same for the picture itself: a widget in the tile, whose 2 px margins each side
    the skeleton's HTML widget has too, so the room is the tile's width less 4 px."""
    return picture_width(ratio, "100% - 4px")


def _ratio_of(jpeg: bytes) -> float | None:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return width / height if height else None


class Gallery:
    """Result tiles (newest run first) above a viewer, a save box and a code box."""

    def __init__(self, lock: threading.RLock, on_use: Callable[[Path], bool],
                 code_for: Callable[[Job], str], on_code: Callable[[str], None]) -> None:
        import ipywidgets as w

        self._lock = lock
        self._on_use = on_use
        self._code_for = code_for
        self._on_code = on_code
        self._tiles: dict[str, list[Tile]] = {}
        self._saving: Tile | None = None
        self.code = ""
        self.message = w.HTML()
        self.viewer_caption = w.HTML(layout=grow("160px"))
        self.viewer_image = w.Image(format="jpeg", layout=w.Layout(
            width="auto", height="auto", max_width=f"min(100%, {VIEWER_MAX})",
            max_height=VIEWER_MAX, object_fit="contain", align_self="flex-start"))
        close_viewer = w.Button(description="close", layout=button_layout())
        self.viewer: Any = w.VBox([
            w.HBox([self.viewer_caption, close_viewer],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.viewer_image])
        self.viewer.add_class("kirin-viewer")
        close_viewer.on_click(lambda _b: show(self.viewer, False))
        self.save_path = w.Text(layout=grow("160px"))
        self.save_button = w.Button(description="save", button_style="primary",
                                    layout=button_layout())
        self.save_button.on_click(lambda _b: self.save())
        close_saver = w.Button(description="close", layout=button_layout())
        close_saver.on_click(lambda _b: show(self.saver, False))
        self.save_message = w.HTML()
        self.saver: Any = w.VBox([
            w.HBox([self.save_path, self.save_button, close_saver],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.save_message])
        self.code_box = w.HTML(layout=grow("200px"))
        close_code = w.Button(description="close", layout=button_layout())
        self.code_area: Any = w.HBox([self.code_box, close_code], layout=w.Layout(
            flex_flow="row wrap", align_items="flex-start"))
        self.code_area.add_class("kirin-code-area")
        close_code.on_click(lambda _b: show(self.code_area, False))
        for area in (self.viewer, self.saver, self.code_area):
            show(area, False)
        self.picker = ComparePicker(lock)
        self.widget = w.VBox([self.message, self.picker.widget, self.viewer, self.saver,
                              self.code_area])

    # -- runs --------------------------------------------------------------------------------

    def add_job(self, job: Job) -> Any:
        """Tiles for a run (n, plus n hidden ones if watermarked copies come); its grid."""
        import ipywidgets as w

        n = job.request.images_expected
        slots = n * (2 if job.request.watermark else 1)
        tiles = [Tile(job, index, self) for index in range(slots)]
        for tile in tiles[n:]:
            show(tile.widget, False)
        grid = w.GridBox([t.widget for t in tiles], layout=w.Layout(
            grid_template_columns=f"repeat(auto-fill, minmax({TILE_MIN_WIDTH}px, 1fr))",
            grid_gap="8px"))
        grid.add_class("kirin-gallery")
        with self._lock:
            self._tiles[job.external_task_id] = tiles
            self._say("")
        return grid

    def forget(self, job: Job) -> None:
        """A run left the panel (its widgets were closed with it): drop its tiles."""
        with self._lock:
            gone = self._tiles.pop(job.external_task_id, [])
            self.picker.drop([tile.pick for tile in gone])

    def job_finished(self, job: Job) -> None:
        """Engine thread: fill the tiles, or take them away when the run failed."""
        with self._lock:
            tiles = self._tiles.get(job.external_task_id, [])
            result = job.result
            if result is None:
                for tile in tiles:
                    show(tile.widget, False)
                return
            kinds = result.types or ["image"] * len(result.paths)
            for tile, path, kind in zip(tiles, result.paths, kinds, strict=False):
                tile.fill(path, kind)
                show(tile.widget, True)
            for tile in tiles[len(result.paths):]:
                show(tile.widget, False)
            if result.paths:
                self.picker.offer()
            extra = len(result.paths) - len(tiles)
            if extra > 0:
                self._say(f"{extra} more result(s) of task {result.task_id} are in "
                          f"{result.paths[-1].parent}")

    # -- tile actions (button callbacks) ------------------------------------------------------

    def view(self, tile: Tile) -> None:
        if tile.path is None:
            return
        with self._lock:
            self.viewer_image.value = jpeg_of_file(tile.path, VIEWER_SIDE)
            self.viewer_caption.value = note(str(tile.path))
            show(self.viewer, True)

    def ask_save(self, tile: Tile) -> None:
        if tile.path is None:
            return
        with self._lock:
            self._saving = tile
            self.save_path.value = f"kirin-{tile.path.parent.name}-{tile.path.name}"
            self.save_message.value = note(
                f"a path for a copy of {tile.path.name} (a folder keeps the name; "
                ".png, .jpg or .webp converts)")
            show(self.saver, True)

    def save(self) -> Path | None:
        """Copy (or convert) the chosen image; never overwrite a file by surprise."""
        with self._lock:
            tile = self._saving
            if tile is None or tile.path is None:
                return None
            try:
                target = save_copy(tile.path, self.save_path.value)
            except (OSError, ValueError) as exc:
                self.save_message.value = note(f"not saved: {exc}", BAD)
                return None
            self.save_message.value = note(f"saved {target.resolve()}", OK)
            return target

    def use(self, tile: Tile) -> None:
        if tile.path is not None and self._on_use(tile.path):
            self._say(f"{tile.path.name} is now a reference image (see above)", OK)

    def show_code_for(self, tile: Tile) -> None:
        self.show_code(self._code_for(tile.job))

    def show_code(self, cell: str) -> None:
        with self._lock:
            self.code = cell
            self.code_box.value = code_html(cell)
            show(self.code_area, True)
        self._on_code(cell)

    def _say(self, text: str, mark: str | None = None) -> None:
        self.message.value = note(text, mark) if text else ""


def save_copy(source: Path, typed: str) -> Path:
    """Where ``typed`` points: into a folder, or a file (converted if its suffix says so)."""
    text = typed.strip()
    if not text:
        raise ValueError("type a path first")
    target = Path(text).expanduser()
    if target.is_dir():
        target = target / source.name
    if not target.suffix:
        target = target.with_suffix(source.suffix)
    if target.exists():
        raise ValueError(f"{target} exists; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    wanted = _CONVERTIBLE.get(target.suffix.lower())
    if target.suffix.lower() == source.suffix.lower() or wanted is None:
        shutil.copyfile(source, target)
    else:
        from PIL import Image

        with Image.open(source) as img:
            converted = img.convert("RGB") if wanted == "JPEG" else img
            converted.save(target, format=wanted)
    return target
