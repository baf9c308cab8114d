"""Pictures the simulator returns: they show that every parameter arrived.

Size follows resolution and aspect ratio; each of the n variants has its own colours; the
prompt, the model, the options and thumbnails of the reference images are drawn on it.
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
import json
import textwrap
from typing import Any

from ..model import spec


def output_size(body: dict[str, Any]) -> tuple[int, int]:
    """Long side 1024 (1k) or 2048 (2k), at the requested ratio ('auto': the first image's)."""
    long_side = {"2k": 2048, "4k": 4096}.get(str(body.get("resolution")), 1024)
    ratio_text = str(body.get("aspect_ratio") or spec.MODELS[body["model"]].default_aspect_ratio)
    if ratio_text == "auto":
        ratio = _first_image_ratio(body) or 1.0
    else:
        w, h = (int(x) for x in ratio_text.split(":"))
        ratio = w / h
    if ratio >= 1:
        return long_side, max(1, round(long_side / ratio))
    return max(1, round(long_side * ratio)), long_side


def _reference_images(body: dict[str, Any]) -> list[Any]:
    from PIL import Image

    values = [item.get("image") if isinstance(item, dict) else item
              for item in body.get("image_list") or []] or \
        ([body["image"]] if body.get("image") else [])
    images: list[Any] = []
    for value in values:
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            try:
                img = Image.open(io.BytesIO(base64.b64decode(value)))
                img.draft("RGB", (256, 256))
                images.append(img.convert("RGB"))
            except Exception:
                continue
        else:
            images.append(None)  # a URL: never fetched here, drawn as a placeholder
    return images


def _first_image_ratio(body: dict[str, Any]) -> float | None:
    for img in _reference_images(body)[:1]:
        if img is not None:
            return float(img.width / img.height)
    return None


def render_result(body: dict[str, Any], index: int, task_id: str) -> bytes:
    """One PNG result image for variant ``index`` of the task."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = output_size(body)
    seed = int(hashlib.sha256(f"{task_id}:{index}:{body.get('prompt')}".encode()).hexdigest(), 16)
    hue = (seed % 360) / 360
    top = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.95))
    bottom = tuple(round(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.15) % 1, 0.8, 0.45))
    mask = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), bottom),
                          Image.new("RGB", (width, height), top), mask)
    draw = ImageDraw.Draw(img)
    scale = max(width, height) / 1024
    font = ImageFont.load_default(size=max(12, round(28 * scale)))
    small = ImageFont.load_default(size=max(10, round(20 * scale)))
    margin = round(32 * scale)
    model = spec.MODELS[body["model"]]
    n = model.images_for(body)
    kind = "series image" if body.get("result_type") == "series" else "variant"
    lines = [
        f"KIRIN SIMULATOR - {body['model']}",
        f"{kind} {index + 1} of {n} | {body.get('resolution', 'no resolution')} | "
        f"{body.get('aspect_ratio', 'default')} | {width}x{height}",
    ]
    if body.get("negative_prompt"):
        lines.append(f"negative: {str(body['negative_prompt'])[:80]}")
    if body.get("element_list") and model.supports_elements:
        ids = ", ".join(str(e.get("element_id")) for e in body["element_list"])
        lines.append(f"elements: {ids}")
    hinted = [f"{key}={json.dumps(body[key])}" for key in model.hinted_params
              if key in body]  # the fields the pages do not list: shown as they arrived
    if hinted:
        lines.append(f"extra: {', '.join(hinted)}"[:100])
    y = margin
    for line in lines:
        draw.text((margin, y), line, fill="white", font=small)
        y += round(30 * scale)
    y += round(10 * scale)
    wrap = max(20, int((width - 2 * margin) / (15 * scale)))
    for line in textwrap.wrap(str(body.get("prompt", "")), wrap)[:12]:
        draw.text((margin, y), line, fill="white", font=font)
        y += round(38 * scale)
    _draw_references(img, body, scale, margin)
    if (body.get("watermark_info") or {}).get("enabled"):
        draw.text((width - margin - round(200 * scale), height - margin - round(30 * scale)),
                  "KIRIN WATERMARK", fill=(255, 255, 255), font=small)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _draw_references(img: Any, body: dict[str, Any], scale: float, margin: int) -> None:
    from PIL import ImageDraw

    refs = _reference_images(body)
    if not refs:
        return
    draw = ImageDraw.Draw(img)
    side = round(120 * scale)
    x = margin
    y = img.height - margin - side
    for number, ref in enumerate(refs, start=1):
        if x + side > img.width - margin:
            break
        if ref is None:
            draw.rectangle((x, y, x + side, y + side), outline="white", width=2)
            draw.text((x + 8, y + side // 2), "URL", fill="white")
        else:
            thumb = ref.copy()
            thumb.thumbnail((side, side))
            img.paste(thumb, (x, y))
        draw.text((x, y - round(22 * scale)), f"image_{number}", fill="white")
        x += side + round(16 * scale)
