"""Zero-config gunicorn settings: `gunicorn -c python:gunicorn_ext.conf myapp:app`.

Runs the stash arbiter with its defaults; every other setting comes from the command
line as usual. To choose options, write a config file that calls `enable_stash()`.
"""

from gunicorn_ext import enable_stash

enable_stash(globals())
