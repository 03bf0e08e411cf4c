"""A runnable example: `gunicorn -c examples/gunicorn.conf.py examples.app:app`."""
