"""Notes that jobs store for people to read later (a plan run's note, an audit row's note), kept
as a message key with its values and worded in each reader's language when shown (#18.1).

A note is one line per remark (a later remark is added on a new line). A line is either a key,
stored as JSON ``["retry of run #%(id)d", {"id": 12}]`` with values marked as for a task
(backoffice.i18n.Keyed: codes, moments, nested messages), or free text: a remark written
before #18, a worker's name, an error the engine said. Free text is shown as stored.
"""

from __future__ import annotations

import enum
import json

from backoffice.i18n import Code, Keyed, Refusal, Refusals


def keyed(message: str, **params) -> str:
    """Return a note line: message (English, the msgid) with its values, as stored."""
    return json.dumps(Keyed(message, **params).key, ensure_ascii=False)


def refusal(message: str, exc: Exception, **params) -> str:
    """Return a note line saying message with a service's refusal as its %(reason)s, so that
    the refusal too is worded for the reader."""
    return keyed(message, reason=_refusal_key(exc), **params)


def _refusal_key(exc: Exception):
    if not isinstance(exc, Refusal) or isinstance(exc, Refusals):
        return str(exc)  # said by something that keeps no key: shown as it was said

    def stored(value):
        if isinstance(value, enum.Enum):
            return Code(value.value)
        if isinstance(value, list | tuple):
            return ", ".join(str(stored(v)) for v in value)
        return value

    return Keyed(exc.message, **{k: stored(v) for k, v in exc.params.items()})


def _key(line: str):
    if not line.startswith('["'):
        return None
    try:
        key = json.loads(line)
    except ValueError:
        return None
    if (isinstance(key, list) and len(key) == 2 and isinstance(key[0], str)
            and isinstance(key[1], dict)):
        return key
    return None


def shown(note: str | None) -> str:
    """Return a stored note in the reader's language: keyed lines worded, free text as is."""
    if not note:
        return ""
    from backoffice.services.tasks import _worded  # the one wording of stored keys

    return "\n".join(_worded(key) if (key := _key(line)) is not None else line
                     for line in note.split("\n"))

