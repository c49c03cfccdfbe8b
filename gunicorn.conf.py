"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py "admin_app:create_app()"`.

Every value can be set from the environment (PORT or BIND, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT).
The app reads its own settings from the environment too: DATABASE_URL, SECRET_KEY, REDIS_URL, MAIL_*, ...
"""
import multiprocessing
import os

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Several processes: a slow page (or an inline job when Redis is absent) never holds up the others.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(8, multiprocessing.cpu_count() * 2 + 1))
# A few threads per process for the small requests the job page polls with.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
# Long work belongs to RQ; a request still may stream an export for a while.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 120)
graceful_timeout = 30
# Each worker builds its own app and database pool after the fork (no connection shared across processes).
preload_app = False
# Recycle workers now and then, so a slow leak never grows for weeks.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
