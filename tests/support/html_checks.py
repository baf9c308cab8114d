"""What every output's HTML must hold to: colours from the theme only, one style block.

Used by the unit tests of each view (card, history, grid, batch, compare, record, lineage).
"""

from __future__ import annotations

import re

from kirin_jupyter.display import theme

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|rgba?\([^)]*\)|(?<![-\w])(?:white|black)(?![-\w])")
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)
_INLINE = re.compile(r'style="([^"]*)"')


def _without_vars(css: str) -> str:
    """``css`` with every ``var(...)`` (nested ones too) removed: what no theme decides."""
    previous = None
    while previous != css:
        previous, css = css, re.sub(r"var\([^()]*\)", "", css)
    return css


def colours_outside_theme(html: str) -> list[str]:
    """Every colour the theme did not decide: in the style block, one that is not the last
    fallback of a theme variable (or one of the greys that read on any page); inline (the fallback for an untrusted notebook), one not
    in ``theme.FALLBACK_COLOURS``, and any text colour at all."""
    found = []
    for block in _STYLE_BLOCK.findall(html):
        found += [f"style block: {c}" for c in _COLOUR.findall(_without_vars(block))
                  if c.replace(" ", "") not in theme.FALLBACK_COLOURS]
    for inline in _INLINE.findall(_STYLE_BLOCK.sub("", html)):
        for declaration in inline.split(";"):
            prop, _, value = declaration.partition(":")
            if prop.strip() == "color":
                found.append(f"inline text colour: {declaration}")
            found += [f"inline: {declaration}" for c in _COLOUR.findall(value)
                      if c.replace(" ", "") not in theme.FALLBACK_COLOURS]
    return found


def style_blocks(html: str) -> int:
    return len(_STYLE_BLOCK.findall(html))
