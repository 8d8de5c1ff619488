"""What a page shows, and the words that give away the wrong language: the crawl's data.

The word lists hold common words of one language that the other language does not use
(no "no", "total", "plan", "error", "general": both languages write them). A page in Spanish
shows none of ENGLISH, a page in English none of SPANISH, once the demo's proper nouns and the
text people typed (names, addresses, subjects, notes) are taken out."""

import enum
import json
import re
from html.parser import HTMLParser

ENGLISH = frozenset(
    """
the and of to with for from by is are was were be been being this that these those it its
not cannot can't will would should could must you your we our they their them who what which
when where why how all any each every more less than then there here only also just into
out over under after before between about again yet still already both either neither
one two three four five six seven eight nine ten first last other others another
day days week weeks month months year years hour hours minute minutes today tomorrow
yesterday monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
january february april june july august september october november december
save cancel delete edit view search filter filters add create show hide back next previous
list details home log items item records page yes approve approved reject rejected advance
hold withdrawn pending paid due issued invoice invoices client clients professional
professionals request requests service services status state task tasks coverage shift
shifts off free available assigned confirmed done cancelled canceled call calls note notes
reason amount price refund refunded write written paused dunning decline declined card lost
sent send phone address file upload uploaded download document documents expires expired
valid missing required check checks reference references interview stage applied queue
funnel skills cleaning ironing childcare gardening care elderly zone works working nobody
someone somebody something nothing everything people person team role roles
in on at or if as an no-show settings setting changes changed change update updated created
new open close closed moved move proposed proposal approval approver preparer applicant
applicants successful failed failure attempt attempts subtotal cents owed balance charge
charged charges rectifying received receive outstanding overdue unpaid collected collection
history timeline customer customers agent agents desk case cases priority level yesterday's
active inactive suspended rating hours' shift's professional's client's extend extended
take takes taken because so such per within without while until since never always
""".split()
)

SPANISH = frozenset(
    """
de la el los las del al y en por para con sin una uno unos unas que qué es está están son
ser fue ha han hay se su sus lo le les este esta estos estas ese esa eso esos esas más menos
muy ya aún todavía también solo sólo cada todo todos toda todas ningún ninguna ninguno nada
otro otra otros otras hoy mañana ayer día días semana semanas mes meses año años hora horas
minutos lunes martes miércoles jueves viernes sábado domingo lun mié jue vie sáb dom
enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
guardar cancelar borrar eliminar editar ver buscar filtro filtros añadir crear nuevo nueva
abrir abierta abierto cerrar cerrada cerrado mostrar ocultar volver siguiente anterior lista
listado detalles inicio elementos registros registro página sí aprobar aprobada aprobado
rechazar rechazada rechazado avanzar pendiente pagada pagado vence vencida emitida factura
facturas cliente clientes profesional profesionales solicitud solicitudes servicio servicios
estado tarea tareas cobertura turno turnos libre asignado asignada confirmado confirmada
hecho hecha cancelado cancelada llamada llamadas nota notas motivo importe precio devolución
pausa pausada cobro cobros tarjeta enviado enviada correo teléfono dirección nombre fichero
archivo subir descargar documento documentos caduca caducado válido válida falta faltan
obligatorio obligatoria comprobación comprobaciones referencia referencias entrevista etapa
cola embudo limpieza planchado jardinería cuidado mayores zona equipo céntimos propuesta baja
pero como cuando donde porque sobre entre desde hasta tras ante según durante mediante
nadie alguien algo personas persona rol roles cambios cambio cambiado creado creada
movida movido propuesto aprobación solicitante solicitantes fallido fallida intento intentos
subtotal pendientes saldo cargo cobrado cobrada rectificativa rectificativas recibido vencido
impagada historial cronología agente agentes caso casos prioridad nivel activo activa
inactivo suspendido suspendida valoración trabaja ampliar turno tomar puede pueden debe
nunca siempre mientras ninguno aquí allí
""".split()
)

# Words both languages write alike, out of either list even if added by mistake above.
SHARED = frozenset(
    "no a total plan error general normal final real actual idea hotel radio "
    "social club email id ok online web subtotal roles".split()
)
ENGLISH = ENGLISH - SHARED
SPANISH = SPANISH - SHARED

WORD = re.compile(r"[^\W\d]+(?:['’][^\W\d]+)?|\w+", re.UNICODE)
CODE = re.compile(r"^[a-z]+(?:_[a-z]+)+$")
UTC_TIME = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:\(?UTC\)?|Z\b)|\bUTC\b\s*\d{1,2}:\d{2}"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
)
# "1,905" on a Spanish page: a thousands comma (English grouping).
ENGLISH_GROUPING = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])(?!\.\d)")
# "3.400,00" on an English page.
SPANISH_GROUPING = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+,\d{2}(?!\d)")
# "99.1%" on a Spanish page: a decimal point (Spanish writes 99,1 %); "1.905" is grouping.
ENGLISH_DECIMAL = re.compile(r"(?<![\d.,])\d+\.\d{1,2}(?![\d.])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"https?://\S+")

ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
# A textarea holds a record's text under edit (its value, as an input's value): data.
SKIPPED_TAGS = {"script", "style", "template", "noscript", "textarea"}
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class VisibleText(HTMLParser):
    """Collect what a reader sees or hovers: text, button values, titles and placeholders.

    Parts marked lang="xx" in another language (the language switcher's "English") are the
    other language on purpose and left out."""

    def __init__(self, locale: str) -> None:
        super().__init__(convert_charrefs=True)
        self.locale = locale
        self.parts: list[str] = []
        self._skip: list[str] = []  # tags whose content is skipped, innermost last
        self._data: list[str] | None = None  # the JSON of a list's filter menus or messages

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._skip:
            if tag == self._skip[0] and tag not in VOID:
                self._skip.append(tag)
            return
        lang = (attrs.get("lang") or self.locale).split("-")[0]
        # Flask-Admin keeps an inline form's blank copy as escaped HTML in a hidden element.
        hidden_copy = "inline-field-template" in (attrs.get("class") or "")
        if tag in SKIPPED_TAGS or lang != self.locale or hidden_copy:
            if tag not in VOID:
                self._skip.append(tag)
            return
        if tag == "input" and attrs.get("type") == "hidden":
            return
        if attrs.get("id") in JSON_DATA:
            # Flask-Admin keeps a list's filter menus and its actions' confirmations as JSON
            # in a hidden element; its scripts show them.
            self._data = []
            self._skip.append(tag)
            return
        for name in ATTRIBUTES:
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)
        else:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self._skip and tag == self._skip[0]:
            self._skip.pop()
            if not self._skip and self._data is not None:
                self.parts += _shown_in_json("".join(self._data))
                self._data = None

    def handle_data(self, data):
        if self._data is not None and len(self._skip) == 1:
            self._data.append(data)
        elif not self._skip and data.strip():
            self.parts.append(data)


# Hidden JSON a page's script shows: {group: [{"operation": ..., "options": [[v, label]]}]} and
# {action: confirmation}.
JSON_DATA = {"filter-groups-data", "active-filters-data", "actions-confirmation-data"}


def _shown_in_json(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    shown = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):  # an action's confirmation: its name is a code
                shown.append(value)
                continue
            shown.append(key)  # a filter group's name
            for flt in value if isinstance(value, list) else ():
                if isinstance(flt, dict):
                    shown.append(str(flt.get("operation") or ""))
                    shown += [str(o[1]) for o in flt.get("options") or () if len(o) > 1]
    return [s for s in shown if s.strip()]


def visible_text(page: str, locale: str) -> list[str]:
    """Return the pieces of text a reader of page sees, in order."""
    parser = VisibleText(locale)
    parser.feed(page)
    parser.close()
    return [" ".join(p.split()) for p in parser.parts]


def stored_codes(*modules) -> set[str]:
    """Return the values of every enum in modules (stored codes), plus the given extras."""
    codes: set[str] = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and value is not enum.Enum:
                codes |= {str(m.value) for m in value if isinstance(m.value, str)}
    return codes


class Reader:
    """Find, in a page's visible text, what a reader of locale should not read there."""

    def __init__(self, locale: str, *, proper_nouns: list[str], codes: set[str]) -> None:
        self.locale = locale
        self.foreign = ENGLISH if locale == "es" else SPANISH
        # Longest first: "María de la Fuente" goes before "María".
        # Spaces as a page shows them: HTML folds runs of spaces, and a non-breaking space
        # (3.400,00 €) reads as one.
        self.nouns = sorted({" ".join(n.split()) for n in proper_nouns if n and len(n) > 2},
                            key=len, reverse=True)
        self.codes = codes

    def _strip(self, text: str) -> str:
        text = URL.sub(" ", EMAIL.sub(" ", text))
        for noun in self.nouns:
            if noun in text:
                text = text.replace(noun, " ")
        return text

    def problems(self, page: str) -> dict[str, set[str]]:
        """Return {kind: {what}} for one page: foreign words, codes, UTC times, number formats."""
        found: dict[str, set[str]] = {}
        pieces = visible_text(page, self.locale)
        text = "\n".join(" ".join(piece.split()) for piece in pieces)
        suspicious = {w.lower() for w in WORD.findall(text)}
        if suspicious & self.foreign or any("_" in w for w in suspicious):
            text = self._strip(text)
        for piece in text.split("\n"):
            words = WORD.findall(piece)
            for word in words:
                low = word.lower()
                if low in self.foreign and not (word.isupper() and len(word) > 1):
                    found.setdefault("foreign words", set()).add(f"{word} ← {piece[:90]}")
                if CODE.match(word) or low in self.codes and "_" in low:
                    found.setdefault("stored codes", set()).add(f"{word} ← {piece[:90]}")
            for m in UTC_TIME.finditer(piece):
                found.setdefault("UTC times", set()).add(f"{m.group(0)} ← {piece[:90]}")
            formats = ((ENGLISH_GROUPING, ENGLISH_DECIMAL) if self.locale == "es"
                       else (SPANISH_GROUPING,))
            for m in (m for pattern in formats for m in pattern.finditer(piece)):
                found.setdefault("number format", set()).add(f"{m.group(0)} ← {piece[:90]}")
        return found
