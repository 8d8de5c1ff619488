"""Uploads are checked by content and size, stored by random names, and served only to vetting."""

import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent
from tests.conftest import csrf_from
from tests.vetting.conftest import JPEG, PDF, PNG
from vetting import documents, service
from vetting.models import Document


def _upload(client, app_id, data, filename, doc_type="identity"):
    # A refused upload rolls the request's transaction back: the arranged rows must be committed.
    from backoffice.db import db

    db.session.commit()
    page = client.get(f"/admin/vetting/application/{app_id}")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(f"/admin/vetting/application/{app_id}/document", data={
        "csrf_token": token, "doc_type": doc_type, "number": "Y1234567", "expires_on": "2030-01-01",
        "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data",
        follow_redirects=True)


def _docs(session, pro_id):
    return session.scalars(sa.select(Document).where(Document.professional_id == pro_id)).all()


@pytest.mark.parametrize(("data", "kind"), [(PDF, "application/pdf"), (JPEG, "image/jpeg"),
                                            (PNG, "image/png")])
def test_accepted_types_by_content(data, kind):
    assert documents.check_upload(data, field="file", max_bytes=1000)[0] == kind


def test_upload_through_the_panel_is_stored_under_a_random_name(client, session, logged_in, vet,
                                                               app):
    logged_in("vetting")
    application = vet.applicant()
    resp = _upload(client, application.id, PNG, "my passport.png")
    assert "Document uploaded; it waits for review." in resp.get_data(as_text=True)
    (doc,) = _docs(session, application.professional_id)
    assert doc.original_name == "my passport.png" and doc.content_type == "image/png"
    assert documents.STORED_NAME.match(doc.stored_name)
    stored = Path(app.config["UPLOAD_DIR"]) / doc.stored_name
    assert stored.read_bytes() == PNG
    assert oct(stored.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("filename", ["passport.pdf", "passport.PDF", "scan.png", "id.jpg"])
def test_wrong_type_disguised_by_extension_is_refused(client, session, logged_in, vet, filename):
    logged_in("vetting")
    application = vet.applicant()
    html = _upload(client, application.id, b"MZ\x90\x00 this is an executable", filename)
    assert "file: only PDF, JPEG or PNG files are accepted" in html.get_data(as_text=True)
    assert _docs(session, application.professional_id) == []


def test_html_pretending_to_be_pdf_is_refused(client, session, logged_in, vet):
    logged_in("vetting")
    application = vet.applicant()
    html = _upload(client, application.id, b"<html><script>alert(1)</script>%PDF-", "x.pdf")
    assert "only PDF, JPEG or PNG" in html.get_data(as_text=True)


def test_too_large_is_refused_with_the_field_named(client, session, logged_in, vet, app,
                                                   monkeypatch):
    monkeypatch.setitem(app.config, "VETTING_MAX_FILE_BYTES", 1024 * 1024)
    logged_in("vetting")
    application = vet.applicant()
    html = _upload(client, application.id, PDF + b"0" * (1024 * 1024), "big.pdf")
    assert "file: the file is 1.0 MB; the limit is 1 MB" in html.get_data(as_text=True)
    assert _docs(session, application.professional_id) == []


def test_request_over_max_content_length_is_refused(client, session, logged_in, vet, app,
                                                    monkeypatch):
    logged_in("vetting")
    application = vet.applicant()
    session.commit()
    page = client.get(f"/admin/vetting/application/{application.id}")
    token = csrf_from(page.get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    resp = client.post(f"/admin/vetting/application/{application.id}/document", data={
        "csrf_token": token, "doc_type": "identity", "file": (io.BytesIO(PDF * 100), "a.pdf")},
        content_type="multipart/form-data")
    assert resp.status_code == 413
    assert _docs(session, application.professional_id) == []


@pytest.mark.parametrize("filename", ["../../../etc/cron.d/evil.pdf", "..\\..\\boot.ini.pdf",
                                      "/etc/passwd", "a/../../b.pdf", "\x00..pdf", "....pdf"])
def test_path_tricks_in_the_name_never_reach_the_file_system(session, vet, app, tmp_path,
                                                             filename):
    upload_dir = tmp_path / "uploads"
    pro = vet.applicant().professional
    doc = service.add_document(session, professional=pro, doc_type="identity", data=PDF,
                               filename=filename, upload_dir=str(upload_dir), max_bytes=10_000)
    assert os.listdir(upload_dir) == [doc.stored_name]
    assert "/" not in doc.original_name and "\\" not in doc.original_name
    assert ".." not in doc.original_name and "\x00" not in doc.original_name


def test_stored_path_refuses_anything_but_our_names(tmp_path):
    for bad in ("../x.pdf", "/etc/passwd", "a" * 32 + ".exe", "", None):
        with pytest.raises(ValueError):
            documents.stored_path(str(tmp_path), bad)


@pytest.mark.parametrize(("role", "status"), [("vetting", 200), ("admin", 200),
                                              ("ops_agent", 403), ("finance", 403)])
def test_download_by_role(client, session, logged_in, vet, role, status):
    doc = vet.document(vet.applicant().professional, "identity")
    user = logged_in(role)
    resp = client.get(f"/admin/vetting/document/{doc.id}/download")
    assert resp.status_code == status
    downloads = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "download", AuditEvent.entity_id == str(doc.id))).all()
    if status == 200:
        assert resp.data == PDF
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert resp.headers["Content-Type"] == "application/pdf"
        assert [(d.actor, d.entity) for d in downloads] == [(user.email, "vetting_document")]
    else:
        assert downloads == []


def test_download_anonymous_goes_to_login(client, session, vet):
    doc = vet.document(vet.applicant().professional, "identity")
    resp = client.get(f"/admin/vetting/document/{doc.id}/download")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
