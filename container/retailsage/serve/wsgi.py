"""WSGI entry for gunicorn: each worker imports this module and so loads its own model.

gunicorn runs with ``preload_app = False``; an exception here is a worker boot failure, after
which the arbiter halts (exit code 3) instead of respawning a worker that cannot serve.
"""

from __future__ import annotations

from retailsage.serve.app import create_app

app = create_app()
