"""Files of a mail whose transaction rolled back are removed; kept and fresh files stay."""

import os
from datetime import datetime

from cases import attachments, jobs, service
from cases.models import ArticleKind, Attachment
from tests.cases.dovecot import PDF

NOW = datetime(2026, 12, 7, 4, 10)


def _age(path, hours: float) -> None:
    moment = NOW.timestamp() - hours * 3600
    os.utime(path, (moment, moment))


def test_orphan_files_are_swept_and_kept_ones_stay(session, make_case, tmp_path):
    upload = str(tmp_path)
    case = make_case()
    article = service.add_article(session, case=case, kind=ArticleKind.NOTE, body="adjunto",
                                  public=False, user=None, now=NOW)
    kept, _ = attachments.store(upload, PDF, "pdf")
    session.add(Attachment(article=article, original_name="factura.pdf", size=len(PDF),
                           content_type="application/pdf", stored_name=kept))
    session.flush()
    orphan, _ = attachments.store(upload, PDF, "pdf")  # its mail's transaction rolled back
    fresh, _ = attachments.store(upload, PDF, "pdf")  # its transaction may still be running
    folder = attachments.folder(upload)
    _age(folder / kept, 5)
    _age(folder / orphan, 5)
    _age(folder / fresh, 0.1)
    removed = jobs.sweep_attachments(session=session, now=NOW, config={"UPLOAD_DIR": upload})
    assert removed == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted([kept, fresh])
