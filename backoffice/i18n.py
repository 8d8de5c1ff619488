"""Translations: the .po catalogues ship with the code and compile into the instance folder."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE = Path(__file__).resolve().parent / "translations"


def compiled_translations(instance: Path) -> str:
    """Compile every messages.po newer than its .mo; return the directory Flask-Babel reads."""
    target = instance / "translations"
    for po in SOURCE.glob("*/LC_MESSAGES/*.po"):
        mo = target / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(".tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)
    return str(target)
