"""The web role's app for a WSGI server: ``backend.wsgi:app``.

The production server is ``finedge web`` (backend/roles/web_server.py: gevent, one process per
instance, thousands of websockets; docs/web.md). Under gunicorn, one gevent worker per
instance (``gunicorn -k gevent -w 1 'backend.wsgi:app'``) works but was not measured; a
gthread worker holds one websocket per thread, and with them all taken it answers no HTTP.
"""

from backend.app import create_app

app = create_app()
