"""How values look in what the engine prints and draws: one-line text, numbers, status colours."""

from __future__ import annotations

STATUS_COLOURS = {"keep": "#1a9850", "discard": "#9e9e9e", "crash": "#d73027", "checks_failed": "#f28e2b"}
OTHER_COLOUR = "#5e6ad2"


def short(text, width: int) -> str:
    """The text on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(("" if text is None else str(text)).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def number(value, digits: int = 6) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"
