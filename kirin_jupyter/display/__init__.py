"""How jobs look: the live progress card (widgets) and the static final rendering (HTML)."""
