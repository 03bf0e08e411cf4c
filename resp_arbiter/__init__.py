"""resp-arbiter: gunicorn's stash tables served over the Redis protocol."""

__version__ = "0.1.0"

# The Redis release whose hash command set the arbiter implements in full; clients and
# test suites gate features on this number.
REDIS_VERSION = "8.0.0"
