"""WSGI entry point for gunicorn: `gunicorn -w 4 'backoffice.wsgi:app'`."""

from backoffice.app import create_app
from backoffice.runtime import settle_heap

app = create_app()
settle_heap()
