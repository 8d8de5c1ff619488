"""Reading mail: what an agent sees of it (folded quotes, safe HTML) and what the loop guard
reads from it. Pure functions: no database, no server."""

import pytest

from cases.mail_guard import machine_reason
from cases.mail_parse import clean_subject, display_text, parse, safe_html
from tests.cases.dovecot import mail


def test_quoted_history_is_folded_and_the_raw_text_kept():
    body = ("Gracias, me va bien el jueves.\n\n"
            "El lun, 7 dic 2026 a las 10:00, Desk <desk@x.es> escribió:\n> Hola\n> ¿Le va bien?\n")
    visible, folded = display_text(body)
    assert visible == "Gracias, me va bien el jueves."
    assert folded.startswith("El lun, 7 dic 2026") and "> ¿Le va bien?" in folded


def test_an_outlook_quote_is_folded():
    visible, folded = display_text("Ok.\n\n-----Original Message-----\nFrom: Desk\n"
                                   "Sent: Monday\nTo: x\nSubject: y\n\nHello\n")
    assert visible == "Ok." and folded.startswith("-----Original Message-----")


def test_a_text_without_quotes_is_shown_whole():
    assert display_text("Ver lista:\n- a\n- b") == ("Ver lista:\n- a\n- b", None)


def test_html_is_sanitised_before_it_is_shown():
    html = ('<p onclick="x()">Hola <img src="http://tracker.example/p.gif">'
            '<script>alert(1)</script><a href="javascript:alert(1)">a</a>'
            '<a href="https://ok.example">b</a></p><style>p{}</style>')
    safe = safe_html(html)
    for bad in ("script", "onclick", "javascript:", "<img", "tracker", "<style"):
        assert bad not in safe
    assert '<a href="https://ok.example" rel="noopener noreferrer">b</a>' in safe


def test_an_html_only_mail_is_read_as_text():
    raw = (b"From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><body><p>Hola&nbsp;amigo</p><div>l\xc3\xadnea 2</div></body></html>")
    parsed = parse(raw)
    assert parsed.text == "Hola amigo\nlínea 2" and "<p>" in parsed.html


@pytest.mark.parametrize("subject, clean", [
    ("Re: RE: Fwd: Cambio [C-000123]", "Cambio"),
    ("AW: [C-000001] Termin", "Termin"),
    ("Pregunta", "Pregunta"),
])
def test_subjects_lose_prefixes_and_tokens(subject, clean):
    assert clean_subject(subject) == clean


def test_the_token_and_the_references_are_read():
    parsed = parse(mail(subject="Re: hola [C-000042]", in_reply_to="<b@x>",
                        references="<a@x> <b@x>"))
    assert parsed.token == 42 and parsed.thread_ids == ["<b@x>", "<a@x>"]


@pytest.mark.parametrize("headers, sender, reason", [
    ({"Auto-Submitted": "auto-replied"}, "a@b.example", "Auto-Submitted: auto-replied"),
    ({"Auto-Submitted": "no"}, "a@b.example", None),
    ({"Precedence": "bulk"}, "a@b.example", "Precedence: bulk"),
    ({"X-Loop": "x"}, "a@b.example", "X-Loop: x"),
    ({"List-Id": "<news.example>"}, "a@b.example", "mailing list"),
    ({}, "Mailer-Daemon@mx.example", "machine sender: mailer-daemon@mx.example"),
    ({}, "noreply+42@shop.example", "machine sender: noreply+42@shop.example"),
    ({}, "desk@backoffice.example", "sent by ourselves"),
    ({}, "norberto@b.example", None),
])
def test_the_loop_guard_tells_machines_from_people(headers, sender, reason):
    parsed = parse(mail(sender=sender, headers=headers))
    assert machine_reason(parsed, our_address="desk@backoffice.example") == reason
