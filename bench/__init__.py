"""Benchmarks: the arbiter side by side with redis-server and gunicorn's own stash."""
