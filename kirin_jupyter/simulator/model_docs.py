"""The simulator's model documents and model search, made from the spec table.

What the gateway serves at ``/model/v1/models/skill/{model}`` and ``…/skill/search``,
for the models the simulator knows. Each document lists the parameters kirin-jupyter
sends, and also the fields the SeaCloud CLI's skills name beside the pages
(the spec entry's ``hinted_params``): a real document may well list them, and so ``%kirin models
--live`` shows, on the simulator too, a document that has fields the spec table lacks.
"""

from __future__ import annotations

from typing import Any

from ..model import spec
from ..model.model_doc import own_fields

PROVIDER = "Kirin (simulated)"

# (type, required, what) of each field kirin-jupyter sends; ``{...}`` from the model.
_FIELDS: dict[str, tuple[str, bool, str]] = {
    "model": ("string", True, "Model ID to use for the request: `{name}`"),
    "prompt": ("string", True, f"Text prompt, at most {spec.PROMPT_MAX_CHARS} characters"),
    "negative_prompt": ("string", False, "Negative text prompt (text-to-image only)"),
    "image": ("string", False, "Reference image: a URL or bare base64 (jpg/png, at most "
              "10 MB, sides of at least 300 px, ratio 1:2.5 to 2.5:1)"),
    "image_list": ("array", False, 'Reference images as `[{{"image": URL or base64}}]`, '
                   "at most {max_images}; `<<<image_N>>>` in the prompt names one"),
    "element_list": ("array", False, 'Subjects by id: `[{{"element_id": long}}]`'),
    "resolution": ("string", False, "Options: {resolutions}. Default: 1k"),
    "n": ("integer", False, f"Number of images, {spec.N_MIN} - {spec.N_MAX}. Default: 1"),
    "aspect_ratio": ("string", False, "Options: {ratios}. Default: {default_ratio}"),
    "watermark_info": ("object", False, '`{{"enabled": boolean}}`: also return '
                       "watermarked copies"),
    "callback_url": ("string", False, "Notified when the task's status changes"),
    "external_task_id": ("string", False, "Your own unique task id; the task can be "
                         "queried by it"),
}
_HINTED = "Named by the SeaCloud CLI's skill for this model; type and range not published"


def document(name: str) -> str | None:
    """The Markdown document of a model the simulator knows, else None."""
    model = spec.MODELS.get(name)
    if model is None:
        return None
    values = {"name": model.name, "max_images": model.max_images,
              "resolutions": ", ".join(spec.RESOLUTIONS),
              "ratios": ", ".join(model.aspect_ratios),
              "default_ratio": model.default_aspect_ratio}
    fields = own_fields(model)
    order = [field for field in _FIELDS if field in fields]
    order += sorted(fields - set(order))
    rows = []
    for field in order:
        kind, required, what = _FIELDS.get(field, ("any", False, "A parameter of this model"))
        rows.append(f"| `{field}` | {kind} | {'yes' if required else 'no'} | "
                    f"{what.format(**values)} |")
    rows += [f"| `{field}` | any | no | {_HINTED} |"
             for field in model.hinted_params if field not in fields]
    codes = "\n".join(f"| {code} | {text} |" for code, text in model.error_codes.items())
    return "\n".join([
        f"# {model.name}", "", " ".join(model.description.split()), "",
        "## Authentication", "", "Every request carries `Authorization: Bearer <API key>`.",
        "", "## Parameters", "",
        "| Parameter | Type | Required | Description |", "|---|---|---|---|", *rows, "",
        "Send them as `{\"model\": ID, \"input\": [{\"params\": {...}}]}` to "
        "`POST /model/v1/generation`.", "",
        "## Response", "", "| Field | Type | Description |", "|---|---|---|",
        "| `id` | string | The task id |",
        "| `status` | string | in_progress, completed or failed |",
        "| `output` | array | The results, once completed |", "",
        "## Error codes", "", "| Code | Description |", "|---|---|", codes, "",
    ])


def search(query: str) -> dict[str, Any]:
    """The search answer: the models whose id, alias or description holds ``query``."""
    words = query.strip().lower()
    hits = []
    for model in spec.MODELS.values():
        text = f"{model.name} {model.alias} {model.description}".lower()
        if words and words not in text:
            continue
        hits.append({
            "id": model.name, "name": model.description.split(":")[0].strip(),
            "provider": PROVIDER, "input": ["text", "image"], "output": ["image"],
            "media_type": "image", "tags": [model.alias, "image"],
        })
    return {"hits": hits, "query": query, "total": len(hits)}
