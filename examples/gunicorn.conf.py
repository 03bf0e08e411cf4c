"""gunicorn settings for the example app: three workers sharing tables through the stash.

From the repository root: `gunicorn -c examples/gunicorn.conf.py examples.app:app`,
then open http://127.0.0.1:8000/ and reload it a few times.
"""

import gunicorn_ext

bind = "127.0.0.1:8000"
workers = 3
worker_class = "gthread"
threads = 2
accesslog = "-"

# One line adds the arbiter; the tables exist (empty) from the start.
gunicorn_ext.enable_stash(globals(), tables=["sessions", "counters", "flags"])
