"""Read an inbound mail into plain data, tell machine mail apart, and prepare text for display.

Pure: no database, no files. Built to survive what arrives: broken MIME, unknown charsets, no
From, nested messages, huge parts. What cannot be read is left out and said in `problems`;
nothing here raises for a bad mail except parse() on bytes the email package cannot take at all.
"""

import functools
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

TOKEN = re.compile(r"\[C-(\d{1,12})\]")
MSGID = re.compile(r"<[^<>\s]+>")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|rv|r|tr|sv|vs)\s*(\[\d+\])?\s*:\s*)+", re.I)
SEPARATOR = re.compile(r"^\s*[-_=]{3,}.*[-_=]{3,}\s*$")  # -----Original Message-----
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")  # read for the loop guard
# The MIME structure headers repeat across mails ('text/plain; charset="utf-8"') and the
# parser reads each part's Content-Type several times; policy.default parses a header anew on
# every read, which was most of the parse time. This is policy.default with those parses
# remembered (header objects are immutable strings: safe to share).
_STRUCTURE = frozenset({"content-type", "content-transfer-encoding", "content-disposition",
                        "mime-version"})


class _Policy(policy.EmailPolicy):
    def header_fetch_parse(self, name, value):
        if not hasattr(value, "name") and name.lower() in _STRUCTURE:
            return _structure_header(name, value)
        return super().header_fetch_parse(name, value)


@functools.lru_cache(maxsize=2048)
def _structure_header(name: str, value: str):
    return policy.default.header_fetch_parse(name, value)


POLICY = _Policy()
_PARSER = BytesParser(policy=POLICY)


@dataclass
class Part:
    """A file of the mail; data is None when it could not be decoded."""

    name: str
    content_type: str
    data: bytes | None
    size: int


@dataclass
class Parsed:
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str | None = None
    from_name: str | None = None
    to: str = ""
    subject: str = ""
    date: datetime | None = None
    language: str | None = None
    text: str = ""
    html: str | None = None
    parts: list[Part] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # the loop guard's, lower-case names
    is_report: bool = False  # a delivery status notification (or another multipart/report)
    bounced: list[str] = field(default_factory=list)  # recipients a report says failed for good
    problems: list[str] = field(default_factory=list)

    @property
    def token(self) -> int | None:
        """Return the case id named by the subject's [C-000123], if any."""
        m = TOKEN.search(self.subject)
        return int(m.group(1)) if m else None

    @property
    def thread_ids(self) -> list[str]:
        """Return the Message-IDs this mail answers, the most direct first."""
        seen, out = set(), []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.add(mid)
                out.append(mid)
        return out


def parse(raw: bytes) -> Parsed:
    """Read a raw mail; what cannot be read is listed in problems instead of raising."""
    msg = _PARSER.parsebytes(raw)
    out = Parsed()
    out.problems.extend(type(d).__name__ for d in msg.defects[:5])
    headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        headers.setdefault(name.lower(), _clean(value))
    # Ids, dates and the loop guard's marks are read raw; only what people read (subject,
    # names) is decoded, which is what the header registry would have spent its time on.
    out.message_id = _first_id(headers.get("message-id", ""))
    out.in_reply_to = _ids(headers.get("in-reply-to", ""))[:5]
    out.references = _ids(headers.get("references", ""))[-20:]
    name, address = _sender(headers, out)
    out.from_name, out.from_address = name or None, address or None
    out.to = _decoded("To", headers.get("to", ""), out)[:2000]
    out.subject = " ".join(_decoded("Subject", headers.get("subject", ""), out).split())
    out.date = _date(headers.get("date", ""))
    lang = headers.get("content-language", "").strip().lower()[:2]
    out.language = lang if lang in ("es", "en") else None
    for name in ("auto-submitted", "precedence", "x-loop", "return-path", "x-autoreply",
                 "x-autorespond", *(h.lower() for h in LIST_HEADERS)):
        if headers.get(name, "").strip():
            out.headers[name] = headers[name].strip()
    texts, htmls = [], []
    try:
        _walk(msg, out, texts, htmls, depth=0)
    except Exception as exc:  # keep what was read before the part that broke
        out.problems.append(f"body: {type(exc).__name__}: {exc}"[:120])
    out.text = "\n\n".join(t for t in texts if t.strip()).strip()
    out.html = "\n".join(htmls) if htmls else None
    if not out.text and out.html:
        out.text = html_to_text(out.html)
    return out


def _clean(value) -> str:
    """Return a raw header as text: 8-bit bytes read as UTF-8 (or replaced), unfolded."""
    value = str(value)
    if any("\udc80" <= c <= "\udcff" for c in value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(value.split())


def _decoded(name: str, value: str, out: Parsed) -> str:
    """Return a header's text with its encoded words (=?utf-8?q?...?=) decoded."""
    if "=?" not in value:
        return value
    try:
        return _clean(policy.default.header_factory(name, value))
    except Exception as exc:  # what even the registry cannot read stays as it came
        out.problems.append(f"{name}: {type(exc).__name__}")
        return value


def _ids(value: str) -> list[str]:
    return [m for m in MSGID.findall(value) if len(m) <= 255]  # longer: not an id we stored


def _first_id(value: str) -> str | None:
    m = MSGID.search(value or "")
    return m.group(0)[:255] if m else None


def _sender(headers: dict[str, str], out: Parsed) -> tuple[str, str]:
    for header in ("from", "sender", "reply-to"):
        value = headers.get(header, "")
        if not value:
            continue
        for name, address in getaddresses([value]) or [parseaddr(value)]:
            address = address.strip().lower()
            if "@" in address and len(address) <= 254 and " " not in address:
                name = _decoded("From", name, out) if "=?" in name else name
                return " ".join(name.split())[:120], address
    return "", ""


def _date(value: str) -> datetime | None:
    try:
        d = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d


def _failed_recipients(part: Message) -> list[str]:
    """Return the addresses a delivery status report says failed for good (RFC 3464: Action
    failed, Status 5.x.x); a delay or a temporary failure (4.x.x) marks nothing."""
    blocks = part.get_payload() if part.is_multipart() else []
    failed = []
    for block in blocks[1:] if isinstance(blocks, list) else []:  # the first is per message
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        if action == "failed" and status.startswith("5.") and "@" in address:
            failed.append(address[:254])
    return failed[:20]


def _walk(part: Message, out: Parsed, texts: list, htmls: list, *, depth: int) -> None:
    if depth > 20:
        out.problems.append("nesting too deep")
        return
    ctype = part.get_content_type()
    if ctype == "multipart/report" or ctype == "message/delivery-status":
        out.is_report = True
    if ctype == "message/delivery-status":
        out.bounced.extend(_failed_recipients(part))
        return
    if part.is_multipart():
        if ctype == "message/rfc822":
            for inner in part.get_payload():
                texts.append(_forwarded_header(inner, out))
                _walk(inner, out, texts, htmls, depth=depth + 1)
            return
        children = part.get_payload()
        if ctype == "multipart/alternative":
            # One rendering suffices: prefer plain text, keep the HTML beside it.
            plain = [c for c in children if c.get_content_type() == "text/plain"]
            rich = [c for c in children if c.get_content_type() == "text/html"]
            other = [c for c in children if c not in plain and c not in rich]
            if plain:
                texts.append(_text(plain[-1], out))
            if rich:
                htmls.append(_text(rich[-1], out))
            for c in other:
                _walk(c, out, texts, htmls, depth=depth + 1)
            return
        for child in children if isinstance(children, list) else []:
            _walk(child, out, texts, htmls, depth=depth + 1)
        return
    if ctype.startswith("multipart/"):  # no usable boundary: the parser left it as text
        out.problems.append(f"{ctype} without parts")
        texts.append(_text(part, out))
        return
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part, out)
    if ctype == "text/plain" and disposition != "attachment" and not filename:
        texts.append(_text(part, out))
    elif ctype == "text/html" and disposition != "attachment" and not filename:
        htmls.append(_text(part, out))
    elif ctype == "message/rfc822":  # not multipart: an unparsed payload, keep it as a file
        _attach(part, out, filename or "message.eml")
    else:
        _attach(part, out, filename or f"part-{len(out.parts) + 1}")


def _forwarded_header(inner: Message, out: Parsed) -> str:
    lines = ["---------- Forwarded message ----------"]
    raw = {k.lower(): _clean(v) for k, v in reversed(list(inner.raw_items()))}
    for name in ("From", "Date", "Subject", "To"):
        value = _decoded(name, raw.get(name.lower(), ""), out)
        if value:
            lines.append(f"{name}: {' '.join(value.split())}")
    return "\n".join(lines)


def _filename(part: Message, out: Parsed) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        out.problems.append("attachment name unreadable")
        return "attachment"


def _payload(part: Message, out: Parsed) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        out.problems.append(f"payload: {type(exc).__name__}")
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _text(part: Message, out: Parsed) -> str:
    if isinstance(part, EmailMessage):
        try:
            return part.get_content()
        except (LookupError, UnicodeError, ValueError, AssertionError, KeyError) as exc:
            out.problems.append(f"text: {type(exc).__name__}: {exc}"[:120])
    data = _payload(part, out)
    for charset in ("utf-8", "cp1252"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _attach(part: Message, out: Parsed, name: str) -> None:
    data = _payload(part, out)
    out.parts.append(Part(name=name, content_type=part.get_content_type(), data=data,
                          size=len(data)))


def clean_subject(subject: str) -> str:
    """Return a subject without reply prefixes and case tokens."""
    subject = TOKEN.sub("", subject or "")
    return " ".join(REPLY_PREFIX.sub("", subject).split())


def html_to_text(value: str) -> str:
    """Return the readable text of an HTML body (tags dropped, entities decoded)."""
    import nh3

    value = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", value)
    value = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>|</h\d\s*>", "\n", value)
    text = html.unescape(nh3.clean(value, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def display_text(body: str) -> tuple[str, str | None]:
    """Split an article's text into what the sender wrote and the quoted history to fold."""
    import quotequail

    body = body or ""
    try:
        parts = quotequail.quote(body)
    except Exception:  # a display helper never breaks the case page
        return body, None
    visible = "".join(text for shown, text in parts if shown).rstrip()
    folded = "".join(text for shown, text in parts if not shown).strip()
    if not visible.strip():
        return body, None
    if folded:  # "On Monday, Ana wrote:" belongs with what it introduces
        head, _, last = visible.rpartition("\n")
        if (last.rstrip().endswith(":") or SEPARATOR.match(last)) and head.strip():
            visible, folded = head.rstrip(), f"{last.strip()}\n{folded}"
    return visible, folded or None


SAFE_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3",
             "h4", "hr", "i", "li", "ol", "p", "pre", "q", "s", "small", "span", "strong",
             "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul"}


def safe_html(value: str | None) -> str:
    """Return mail HTML safe to show in the panel: no scripts, styles, images or forms."""
    import nh3

    if not value:
        return ""
    # Remote images are trackers and cid: images are not served: neither is fetched.
    return nh3.clean(value, tags=SAFE_TAGS,
                     attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"},
                                 "th": {"colspan", "rowspan"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
