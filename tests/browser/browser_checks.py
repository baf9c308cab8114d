"""What a designer checks by eye, measured in the browser: text contrast and cut-off content.

Both return readable descriptions of the offenders, so a failing assert says what to fix.
"""

from __future__ import annotations

from typing import Any

# WCAG 2 relative luminance and contrast, with the text's colour and every background under
# it composited (alpha) up to the page's, so a translucent theme colour is judged as shown.
_CONTRAST_JS = """
([root, minimum]) => {
  const parse = (text) => {
    // rgb()/rgba(), and color(srgb r g b / a) in 0..1, which marimo's theme computes to
    const srgb = text.match(/^color\\(srgb ([^)]+)\\)$/);
    const m = srgb || text.match(/^rgba?\\(([^)]+)\\)$/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    const scale = srgb ? 255 : 1;
    return [p[0] * scale, p[1] * scale, p[2] * scale, p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + below[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement || node.getRootNode().host) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour[3] > 0) {
        layers.push(colour);
        if (colour[3] >= 1) break;
      }
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [];
  let checked = 0;
  for (const scope of (typeof root === 'string' ? document.querySelectorAll(root) : [root])) {
    for (const el of scope.querySelectorAll('*')) {
      const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
      const style = getComputedStyle(el);
      if (!own || style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
      checked += 1;
      const fg = parse(style.color);
      if (!fg) { found.push(`${el.tagName} colour not rgb: ${style.color}`); continue; }
      const bg = background(el);
      const shown = over(fg, bg);
      const [a, b] = [luminance(shown), luminance(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < minimum) {
        const text = el.textContent.trim().slice(0, 40);
        found.push(`${ratio.toFixed(2)}:1 ${el.tagName}.${el.className} "${text}" ` +
                   `(${style.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
      }
    }
  }
  return {found, checked};
}
"""

# Content wider than its box: cut off (hidden) or spilling over (visible). Boxes made to
# scroll sideways are fine, and so is one line of text ended by an ellipsis on purpose (its
# whole text in a title); so is a box under 2 px of slack (sub-pixel rounding).
_OVERFLOW_JS = """
(root) => {
  const found = [];
  let checked = 0;
  for (const scope of (typeof root === 'string' ? document.querySelectorAll(root) : [root])) {
    for (const el of scope.querySelectorAll('*')) {
      if (el.clientWidth === 0 || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      if (['auto', 'scroll'].includes(style.overflowX)) continue;
      if (style.textOverflow === 'ellipsis' && style.overflowX === 'hidden' &&
          (el.title || el.querySelector('[title]'))) continue;
      if (['IMG', 'VIDEO', 'svg', 'path', 'CANVAS'].includes(el.tagName)) continue;
      checked += 1;
      if (el.scrollWidth > el.clientWidth + 1) {
        const text = (el.innerText || el.value || '').trim().slice(0, 40);
        found.push(`${el.tagName}.${el.className} "${text}": content ${el.scrollWidth}px ` +
                   `in ${el.clientWidth}px`);
      }
    }
  }
  return {found, checked};
}
"""


def low_contrast(page: Any, root_selector: Any, minimum: float = 4.5) -> list[str]:
    """Every visible text under ``root_selector`` whose contrast is below ``minimum``; a
    Playwright locator for a root inside a shadow root (marimo's widgets), whose
    backgrounds are read up through the shadow host."""
    if not isinstance(root_selector, str):
        answer = root_selector.evaluate(f"(el, minimum) => ({_CONTRAST_JS})([el, minimum])",
                                        minimum)
        assert answer["checked"] > 0, f"no text found under {root_selector}"
        return list(answer["found"])
    answer = page.evaluate(_CONTRAST_JS, [root_selector, minimum])
    assert answer["checked"] > 0, f"no text found under {root_selector!r}"
    return list(answer["found"])


def overflowing(page: Any, root_selector: str) -> list[str]:
    """Every element under ``root_selector`` whose content is wider than its box."""
    answer = page.evaluate(_OVERFLOW_JS, root_selector)
    assert answer["checked"] > 0, f"nothing found under {root_selector!r}"
    return list(answer["found"])


def overflowing_but_the_slider(page: Any, root_selector: str) -> list[str]:
    """``overflowing``, less the compare slider's before box: it clips its picture on
    purpose."""
    return [found for found in overflowing(page, root_selector)
            if not found.startswith("TD.kirin-compare-before ")]


def switch_theme(page: Any, name: str) -> None:
    """Choose a JupyterLab theme from the Settings menu, as a user would, and wait for it."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=name).first.click()
    page.locator(f'body[data-jp-theme-name="{name}"]').wait_for(state="attached", timeout=20_000)
    page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute
    page.keyboard.press("Escape")


def collapse_left_sidebar(page: Any) -> None:
    """Close the left sidebar (file browser) if it is open, as anyone in a narrow window
    would: its 250 px would otherwise leave a notebook column of about 100 px."""
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()
        page.wait_for_timeout(300)


# A <select> shows its chosen option's text cut at its own edge, and its scroll width never
# says so: the text is measured in the select's font against the room inside its padding.
_CUT_SELECT_JS = """
(root) => {
  const found = [];
  const canvas = document.createElement('canvas').getContext('2d');
  for (const scope of (typeof root === 'string' ? document.querySelectorAll(root) : [root])) {
    for (const el of scope.querySelectorAll('select')) {
      const option = el.options[el.selectedIndex];
      if (!option || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const need = canvas.measureText(option.text).width;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (need > room + 1)
        found.push(`SELECT "${option.text.slice(0, 40)}": text ${Math.ceil(need)}px ` +
                   `in ${Math.floor(room)}px`);
    }
  }
  return found;
}
"""


def cut_selects(page: Any, root_selector: str) -> list[str]:
    """Every visible dropdown under ``root_selector`` too narrow for its chosen option."""
    return list(page.evaluate(_CUT_SELECT_JS, root_selector))
