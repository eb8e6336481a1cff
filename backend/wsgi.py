"""WSGI entry point for gunicorn in production (one worker per instance, Redis message queue):

gunicorn -k gthread --threads 50 -w 1 'backend.wsgi:app'
"""

from backend.app import create_app

app = create_app()
