"""The stars and the pick and reject buttons a live card draws in its tiles' marks slots:
front-end code for ``live_view.ESM``, and its style.

Each slot (``marks.slot``) gets five star buttons and two toggles, made once per drawing of
the frame and then only updated (text, ``aria-pressed``, a class), so a keyboard user's
focus stays on the button pressed. A click sends ``{"event": "rate", "tile": i, "rating":
n}`` or ``{"event": "flag", "tile": i, "flag": "picked"}``; Python decides what it means
(the current star again clears the rating, a flag toggles) and sends back the tiles' marks.

The row's size never depends on the marks: every button has a fixed box and only its
glyph's fill and its border colour change. Stars shrink with a narrow tile (the star
group is a size container) rather than spill out of it; the toggles wrap under them.
Colours are the card's theme variables; a state is told by a border, never by coloured
words.
"""

from __future__ import annotations

import json

# Scoped under the card's root (.kirin), whose style block sets the theme's variables.
CSS = (
    ".kirin .kirin-mark-row{display:flex;flex-wrap:wrap;align-items:center;gap:2px 4px;"
    "min-height:20px;margin-top:3px;line-height:18px}"
    ".kirin .kirin-mark-stars{display:flex;flex:0 1 72px;min-width:0;"
    "container-type:inline-size}"
    ".kirin .kirin-mark-flags{display:flex;flex:none;gap:3px}"
    ".kirin .kirin-mark-row button{font-family:inherit;margin:0;padding:0;height:18px;"
    "line-height:16px;cursor:pointer;background:none;color:var(--km);border-radius:4px}"
    # Hovering a star lights it and those before it: the rating a click would give.
    ".kirin .kirin-mark-stars:hover .kirin-mark-star{color:var(--kt)}"
    ".kirin .kirin-mark-star:hover~.kirin-mark-star{color:var(--km)}"
    ".kirin .kirin-mark-flag:hover{color:var(--kt)}"
    ".kirin .kirin-mark-row button:focus-visible{outline:2px solid var(--ka);"
    "outline-offset:0}"
    ".kirin .kirin-mark-star{flex:1 1 0;min-width:0;border:0;"
    "font-size:min(14px,19cqi)}"
    ".kirin .kirin-mark-star.kirin-on{color:var(--kt)}"
    ".kirin .kirin-mark-flag{width:20px;flex:none;font-size:11px;"
    "border:1px solid var(--kb)}"
    ".kirin .kirin-mark-flag.kirin-on{color:var(--kt)}"
    ".kirin .kirin-mark-pick.kirin-on{border-color:var(--kok);"
    "box-shadow:inset 0 0 0 1px var(--kok)}"
    ".kirin .kirin-mark-reject.kirin-on{border-color:var(--kerr);"
    "box-shadow:inset 0 0 0 1px var(--kerr)}"
)

# ``markButtons(model, el)``: draw or update the buttons of every slot in ``el``.
JS = """
const MARK_CSS = __CSS__;
const FLAGS = [["picked", "kirin-mark-pick", "\\u2713", "pick",
                "pick: export(..., picked=True) takes it"],
               ["rejected", "kirin-mark-reject", "\\u2715", "reject",
                "reject: %kirin cull moves it aside"]];
const markButton = (model, className, message) => {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  // The tile may be a link: the click marks, it does not open the picture.
  button.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    model.send(message);
  });
  return button;
};
const buildMarks = (model, row, tile) => {
  row.classList.add("kirin-mark-row");
  const stars = document.createElement("span");
  stars.className = "kirin-mark-stars";
  for (let n = 1; n <= 5; n++) {
    const star = markButton(model, "kirin-mark-star", { event: "rate", tile, rating: n });
    star.dataset.star = String(n);
    star.setAttribute("aria-label", n === 1 ? "1 star" : n + " stars");
    stars.append(star);
  }
  const flags = document.createElement("span");
  flags.className = "kirin-mark-flags";
  for (const [flag, className, glyph, label, title] of FLAGS) {
    const button = markButton(model, "kirin-mark-flag " + className,
                              { event: "flag", tile, flag });
    button.textContent = glyph;
    button.title = title;
    button.setAttribute("aria-label", label);
    flags.append(button);
  }
  row.append(stars, flags);
};
const showMarks = (row, state) => {
  const rating = Number.isInteger(state[0]) ? state[0] : 0;
  for (const star of row.querySelectorAll(".kirin-mark-star")) {
    const n = Number(star.dataset.star);
    star.textContent = n <= rating ? "\\u2605" : "\\u2606";
    star.classList.toggle("kirin-on", n <= rating);
    star.setAttribute("aria-pressed", String(n === rating));
    star.title = n === rating ? n + " of 5 stars: click again to clear"
                              : "rate " + n + " of 5 stars";
  }
  for (const [flag, className] of FLAGS) {
    const button = row.querySelector("." + className);
    button.classList.toggle("kirin-on", state[1] === flag);
    button.setAttribute("aria-pressed", String(state[1] === flag));
  }
};
const markButtons = (model, el) => {
  const states = model.get("marks") || [];
  const rows = el.querySelectorAll(".kirin-marks[data-kirin-tile]");
  if (!rows.length) return;
  if (!el.querySelector("style.kirin-mark-style")) {
    const style = document.createElement("style");
    style.className = "kirin-mark-style";
    style.textContent = MARK_CSS;
    el.prepend(style);
  }
  for (const row of rows) {
    const tile = Number(row.dataset.kirinTile);
    const state = states[tile];
    if (!Number.isInteger(tile) || !Array.isArray(state)) continue;
    if (!row.querySelector(".kirin-mark-star")) buildMarks(model, row, tile);
    showMarks(row, state);
  }
};
""".replace("__CSS__", json.dumps(CSS))
