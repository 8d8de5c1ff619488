"""Configuration read from the environment; tests pass their own mapping to create_app."""

import os
from pathlib import Path


def _default_instance() -> Path:
    return Path(os.environ.get("BACKOFFICE_INSTANCE", Path.cwd() / "instance")).resolve()


class Config:
    """Settings of one deployment, each overridable by an environment variable."""

    def __init__(self) -> None:
        instance = _default_instance()
        self.INSTANCE_PATH = str(instance)
        self.DATABASE_URL = os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'backoffice.sqlite3'}"
        )
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret(instance)
        self.SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
        self.LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
        self.LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
        self.LOGIN_MAX_FAILURES_PER_ADDRESS = int(
            os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", "20"))
        self.MFA_REQUIRED_ROLES = os.environ.get("MFA_REQUIRED_ROLES", "admin,finance")
        self.MFA_PENDING_MINUTES = int(os.environ.get("MFA_PENDING_MINUTES", "5"))
        self.SESSION_COOKIE_SECURE = os.environ.get("COOKIE_SECURE", "1") == "1"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "backoffice_session"
        self.WTF_CSRF_TIME_LIMIT = None
        self.BABEL_DEFAULT_LOCALE = os.environ.get("DEFAULT_LOCALE", "es")
        self.BABEL_DEFAULT_TIMEZONE = os.environ.get("TIMEZONE", "Europe/Madrid")
        self.SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
        self.SMTP_PORT = int(os.environ.get("SMTP_PORT", "8025"))
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "backoffice@example.com")
        # The case desk's inbox: an IMAP folder (imaps://user:pass@host:993/INBOX) and/or a
        # Maildir a local mail server delivers to; empty: not read.
        self.MAIL_IMAP_URL = os.environ.get("MAIL_IMAP_URL", "")
        self.MAIL_INBOX_MAILDIR = os.environ.get("MAIL_INBOX_MAILDIR", "")
        # Mail in commits after this many mails, or sooner once a batch took this long.
        self.MAIL_FETCH_BATCH = int(os.environ.get("MAIL_FETCH_BATCH", "50"))
        self.MAIL_FETCH_BATCH_SECONDS = float(os.environ.get("MAIL_FETCH_BATCH_SECONDS", "0.25"))
        self.CASES_MAX_OPEN_PER_AGENT = int(os.environ.get("CASES_MAX_OPEN_PER_AGENT", "25"))
        self.MAIL_ATTACHMENT_MAX_BYTES = int(
            os.environ.get("MAIL_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(instance / "uploads"))
        self.STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "sk_test_backoffice")
        self.STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:8420")
        self.STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_backoffice")
        self.STRIPE_MAX_RPS = float(os.environ.get("STRIPE_MAX_RPS", "100"))
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
        # The plan queue (assignment.queue): redis://host:port/db for workers on several
        # machines; empty: queue.sqlite3 in the instance folder (one machine).
        self.QUEUE_URL = os.environ.get("QUEUE_URL", "")

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


def _instance_secret(instance: Path) -> str:
    """Keep one random secret per instance folder so restarts do not log everyone out."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
