"""The model, prompt and option controls: they adapt to the model and report their values.

Only controls that apply to the chosen model are shown (omni: ``auto`` aspect ratio and
``<<<image_N>>>``; v3: negative prompt and element ids), so a person never fills in a field
the request would not send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..model import spec
from .form import FormValues
from .grid import button_layout, field, grow
from .references import renumber_placeholders
from .style import counter_html, note, show

_AR_LABELS = {"auto": "auto (follow the reference images)"}


class OptionsSection:
    """Widgets for everything but the reference images; ``values()`` reads them all."""

    def __init__(self, on_change: Callable[[], None],
                 on_model: Callable[[spec.ModelSpec], None]) -> None:
        import ipywidgets as w

        self._on_change = on_change
        self._on_model = on_model
        self._ar_chosen = False  # once a person picks a ratio, a model switch keeps it
        self._setting_ar = False
        self._image_count = 0

        self.model = w.Dropdown(
            options=[(f"{m.alias} · {m.name}", m.name) for m in spec.MODELS.values()],
            value=spec.DEFAULT_MODEL, layout=grow("200px", max_width="320px"),
        )
        self.model_help = w.HTML(layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.prompt = w.Textarea(
            placeholder="Describe the image you want. With reference images (omni), name "
                        "them <<<image_1>>>, <<<image_2>>>, …",
            rows=4, layout=grow("100%"), continuous_update=True,
        )
        self.prompt.add_class("kirin-prompt")
        self.prompt_count = w.HTML()
        self.negative = w.Text(placeholder="What to avoid (text-to-image only)",
                               layout=grow("100%"), continuous_update=True)
        self.negative.add_class("kirin-negative")
        self.negative_count = w.HTML()
        self.negative_reason = w.HTML(layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.elements = w.Text(placeholder="names or ids, e.g. fox, 101",
                               continuous_update=True,
                               layout=grow("120px", max_width="240px"))
        self.elements_help = w.HTML(note(
            "subjects made with %kirin element create, by name or id; images + elements: "
            "at most 10"),
            layout=w.Layout(flex="1 1 200px", min_width="0"))
        self.resolution = w.ToggleButtons(options=list(spec.resolve_model(
                                              spec.DEFAULT_MODEL).resolutions),
                                          value=spec.DEFAULT_RESOLUTION,
                                          style={"button_width": "56px"},
                                          layout=w.Layout(width="auto"))
        self.resolution.add_class("kirin-resolution")
        self.n = w.IntSlider(value=spec.DEFAULT_N, min=spec.N_MIN, max=spec.N_MAX,
                             continuous_update=False, layout=grow("160px", max_width="320px"))
        self.n.add_class("kirin-n")
        # A series (v3omni): one of n variants, or a series of 2-9 related images.
        self.series = w.Dropdown(options=[("variants (n)", 0)], value=0,
                                 layout=grow("160px", max_width="240px"))
        self.series.add_class("kirin-series")
        self.aspect_ratio = w.Dropdown(layout=grow("200px", max_width="320px"))
        self.watermark = w.Checkbox(value=False, description="also make watermarked copies",
                                    indent=False, layout=w.Layout(width="auto", flex="0 1 auto"))
        self.external_id = w.Text(layout=grow("100%"),
                                  placeholder="your own task id, unique per account "
                                              "(empty: one is generated)")
        self.callback_url = w.Text(layout=grow("100%"),
                                   placeholder="https://… the service notifies it of status "
                                               "changes (the panel still polls)")
        self.advanced = w.ToggleButton(value=False, description="Advanced options",
                                       icon="chevron-right", layout=button_layout())
        self.advanced_box = w.VBox([field("External id", self.external_id),
                                    field("Callback URL", self.callback_url)])
        self.advanced.observe(self._toggle_advanced, names="value")
        show(self.advanced_box, False)
        self.model_field = field("Model", self.model, self.model_help)
        self.prompt_field = field("Prompt", self.prompt, self.prompt_count)
        self.negative_box = field("Negative", self.negative, self.negative_count,
                                  self.negative_reason)
        self.elements_box = field("Elements", self.elements, self.elements_help)
        self.resolution_field = field("Resolution", self.resolution)
        self.n_field = field("Images", self.n)
        self.series_field = field("Result", self.series)
        self.aspect_field = field("Aspect ratio", self.aspect_ratio, css_class="kirin-ratio")
        self.watermark_field = field("Watermark", self.watermark, css_class="kirin-watermark")
        for control in (self.prompt, self.negative, self.elements, self.resolution, self.n,
                        self.series, self.watermark, self.external_id, self.callback_url):
            control.observe(self._changed, names="value")
        self.aspect_ratio.observe(self._ar_changed, names="value")
        self.model.observe(self._model_changed, names="value")
        self._apply_model(spec.resolve_model(self.model.value))
        self._count()

    # -- reading ---------------------------------------------------------------------------

    def values(self) -> FormValues:
        return FormValues(
            model=self.model.value, prompt=self.prompt.value,
            negative_prompt=self.negative.value, elements=self.elements.value,
            n=int(self.n.value), resolution=self.resolution.value or "",
            series=int(self.series.value or 0),
            aspect_ratio=self.aspect_ratio.value or "", watermark=bool(self.watermark.value),
            external_task_id=self.external_id.value, callback_url=self.callback_url.value,
        )

    @property
    def model_spec(self) -> spec.ModelSpec:
        return spec.resolve_model(self.model.value)

    # -- changes from the references section ------------------------------------------------

    def set_image_count(self, count: int) -> None:
        """v3 sends no negative prompt with a reference image: disable it and say why."""
        self._image_count = count
        blocked = self.model_spec.supports_negative_prompt and count > 0
        self.negative.disabled = blocked
        self.negative_reason.value = note(
            "disabled: the API takes a negative prompt only for text-to-image; with a "
            "reference image write what to avoid in the prompt, or remove the image"
        ) if blocked else ""

    def insert_placeholder(self, number: int) -> None:
        text = self.prompt.value
        gap = "" if not text or text[-1].isspace() else " "
        self.prompt.value = f"{text}{gap}<<<image_{number}>>>"

    def renumber(self, mapping: Mapping[int, int | None]) -> None:
        self.prompt.value = renumber_placeholders(self.prompt.value, mapping)

    def start_from(self, model: str, n: int, resolution: str, aspect_ratio: str) -> None:
        """The settings' defaults (the same ones ``%kirin`` and ``generate()`` use)."""
        self.model.value = spec.resolve_model(model).name
        self.n.value = n
        if resolution in self.resolution.options:
            self.resolution.value = resolution
        if aspect_ratio and aspect_ratio in spec.resolve_model(model).aspect_ratios:
            self.aspect_ratio.value = aspect_ratio  # a chosen ratio: kept on a model switch

    # -- reacting ----------------------------------------------------------------------------

    def _changed(self, change: Any = None) -> None:
        self._count()
        self._on_change()

    def _count(self) -> None:
        self.prompt_count.value = counter_html(len(self.prompt.value), spec.PROMPT_MAX_CHARS)
        self.negative_count.value = counter_html(len(self.negative.value),
                                                 spec.PROMPT_MAX_CHARS)

    def _toggle_advanced(self, change: Any) -> None:
        show(self.advanced_box, bool(change["new"]))
        self.advanced.icon = "chevron-down" if change["new"] else "chevron-right"

    def _ar_changed(self, change: Any) -> None:
        if not self._setting_ar:
            self._ar_chosen = True
        self._on_change()

    def _model_changed(self, change: Any) -> None:
        model = spec.resolve_model(change["new"])
        self._apply_model(model)
        self.set_image_count(self._image_count)
        self._on_model(model)
        self._on_change()

    def _apply_model(self, model: spec.ModelSpec) -> None:
        self.model_help.value = note(model.description)
        current = self.aspect_ratio.value
        keep = self._ar_chosen and current in model.aspect_ratios
        self._setting_ar = True
        try:
            self.aspect_ratio.options = [(_AR_LABELS.get(r, r), r) for r in model.aspect_ratios]
            self.aspect_ratio.value = current if keep else model.default_aspect_ratio
        finally:
            self._setting_ar = False
        show(self.negative_box, model.supports_negative_prompt)
        show(self.elements_box, model.supports_elements)
        # Resolution, watermark and series: as the model's entry in the table says.
        chosen = self.resolution.value
        self.resolution.options = list(model.resolutions)
        if model.resolutions:
            self.resolution.value = chosen if chosen in model.resolutions else (
                spec.DEFAULT_RESOLUTION if spec.DEFAULT_RESOLUTION in model.resolutions
                else model.resolutions[0])
        show(self.resolution_field, bool(model.resolutions))
        show(self.watermark_field, model.supports_watermark)
        amounts = model.series_amounts
        self.series.options = [("variants (n)", 0)] + (
            [(f"a series of {k}", k) for k in range(amounts[0], amounts[1] + 1)]
            if amounts else [])
        self.series.value = 0
        show(self.series_field, amounts is not None)
