"""Private files (vetting documents, mail attachments): harmless labels, random stored names."""

import hashlib
import os
import re
import secrets
import unicodedata
from pathlib import Path


def sanitise_name(name: str | None, *, default: str) -> str:
    """Reduce a sent file name to a harmless label (no folders, no control characters)."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    return (name or default)[-120:]


def write_private(folder: Path, data: bytes, ext: str) -> tuple[str, str]:
    """Write data in folder under a new random name, readable by us only; return (name, sha256)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = f"{secrets.token_hex(16)}.{ext}"
    fd = os.open(folder / stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return stored, hashlib.sha256(data).hexdigest()
