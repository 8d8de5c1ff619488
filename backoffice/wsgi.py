"""WSGI entry point for gunicorn: `gunicorn -w 4 'backoffice.wsgi:app'`."""

from backoffice.app import create_app

app = create_app()
