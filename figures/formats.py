"""Numbers as each reader writes them: Spanish 1.234,5 and 91,2 %; English 1,234.5 and 91.2%."""

from datetime import date


def number(value: float | None, decimals: int = 0, *, lang: str = "es") -> str:
    """Return value with thousands grouped and the reader's decimal mark ("—" for None)."""
    if value is None:
        return "—"
    if lang == "es":  # grouped with "_" first: then two swaps (a page formats thousands)
        return f"{value:_.{decimals}f}".replace(".", ",").replace("_", ".")
    return f"{value:,.{decimals}f}"


def percent(share: float | None, *, lang: str = "es", decimals: int = 1) -> str:
    """Return a share (0.912) as a percentage: 91,2 % in Spanish, 91.2% in English."""
    if share is None:
        return "—"
    text = number(share * 100, decimals, lang=lang)
    return f"{text} %" if lang == "es" else f"{text}%"


def euros(cents: int | None, *, lang: str = "es") -> str:
    """Return cents as euros: 1.234,56 € in Spanish, €1,234.56 in English."""
    if cents is None:
        return "—"
    text = number(abs(cents) / 100, 2, lang=lang)
    sign = "-" if cents < 0 else ""
    return f"{sign}{text} €" if lang == "es" else f"{sign}€{text}"


def duration(minutes: float | None) -> str:
    """Return minutes as 45 min, 3 h 05 or 2 d 4 h (the same in both languages)."""
    if minutes is None:
        return "—"
    m = int(minutes)
    if m < 60:
        return f"{m} min"
    if m < 48 * 60:
        return f"{m // 60} h {m % 60:02d}"
    return f"{m // 1440} d {m % 1440 // 60} h"


def seconds(value: float | None) -> str:
    """Return seconds as 45 s or 3:05 min."""
    if value is None:
        return "—"
    s = int(value)
    return f"{s} s" if s < 60 else f"{s // 60}:{s % 60:02d} min"


def week(monday: date) -> str:
    """Return a week by its Monday, day first as readers here write dates in both languages."""
    return f"{monday:%d/%m}"
