"""The master's own Redis client: a few commands on one connection, replies parsed by hiredis.

redis-py is for the workers. Importing it imports `redis.asyncio`, which keeps a direct
reference to `ssl.SSLContext`, so a master that imported it made every gevent worker
warn (MonkeyPatchWarning) as it patched ssl. The master says little (PING, AUTH,
SELECT, INFO, CONFIG SET, STASH.ENSURE), so it speaks RESP itself. This module also
holds the URL helpers both sides use, and `redis_url()` for application settings.
"""

from __future__ import annotations

import os
import socket
from types import TracebackType
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import hiredis

DEFAULT_PORT = 6379
#: Where workers find the stash server (set by the master that started the arbiter).
URL_ENV = "GUNICORN_STASH_URL"
#: Set to 1 by a master with `enable_stash(client_cache=True)`: its workers' default.
CLIENT_CACHE_ENV = "GUNICORN_STASH_CLIENT_CACHE"
#: URL schemes that name a Redis Cluster (any one node of it) instead of one server.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class ReplyError(Exception):
    """The server answered an error (its text is the message)."""


def ping(path: str, timeout: float = 1.0) -> bool:
    """True when a server answers on the Unix socket (PONG, or NOAUTH: up, with a password)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def unix_url(path: str, password: str | None) -> str:
    """The redis-py URL of a Unix socket, with the password if any."""
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"unix://{auth}{path}"


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_db(url: str) -> int:
    """The database a URL selects, as redis-py reads it: `?db=N`, else `/N` after a
    redis:// or rediss:// address, else 0. ValueError if it is not an integer."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    path = parts.path.replace("/", "") if parts.scheme in ("redis", "rediss") else ""
    return int(query.get("db") or path or 0)


def is_cluster(url: str) -> bool:
    """Whether `url` names a Redis Cluster (`redis+cluster://`, `rediss+cluster://`)."""
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def node_url(url: str) -> str:
    """A cluster URL as the plain redis-py URL of the node it names (others unchanged)."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme)
    return url if scheme is None else urlunsplit((scheme, *parts[1:]))


def redis_url(db: int = 0, *, url: str | None = None) -> str:
    """The stash server's URL (`GUNICORN_STASH_URL`, or `url`) for database `db`.

    For application settings that give a cache or a session store its own database on
    the server gunicorn runs, so that a cache's `clear()` (FLUSHDB) never reaches the
    stash's tables in database 0: `CACHES = {"default": {..., "LOCATION":
    gunicorn_ext.redis_url(db=1)}}`. The password, user, Unix socket path and other
    options are kept; `unix://` URLs carry the database as `?db=N`, `redis://` and
    `rediss://` URLs as their path `/N`. A Redis Cluster has database 0 only, so any
    other `db` with a `redis+cluster://` URL raises ValueError.
    """
    if isinstance(db, bool) or not isinstance(db, int) or db < 0:
        raise ValueError(f"db must be a database number (an int >= 0), not {db!r}")
    base = url if url is not None else os.environ.get(URL_ENV)
    if not base:
        raise LookupError(f"{URL_ENV} is not set: run the application under gunicorn with "
                          "gunicorn_ext.enable_stash() (or pass url=...)")
    parts = urlsplit(base)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key != "db"]
    if parts.scheme == "unix":
        query.append(("db", str(db)))
        path = parts.path
    elif parts.scheme in ("redis", "rediss"):
        path = f"/{db}"
    elif parts.scheme in CLUSTER_SCHEMES:
        if db != 0:
            raise ValueError(f"a Redis Cluster has database 0 only, not {db}: give the "
                             "cache a key prefix of its own instead")
        return base
    else:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {redact(base)}")
    # Not urlunsplit: it spells `unix:///path` (empty host) as `unix:/path`.
    return f"{parts.scheme}://{parts.netloc}{path}?{urlencode(query)}".removesuffix("?")


class Connection:
    """One connection; `call` sends a command and returns its reply (RESP2)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = hiredis.Reader()

    @classmethod
    def open(cls, url: str, timeout: float) -> Connection:
        """Connect as redis-py would to `url` (unix://, redis://, rediss://, with a user,
        password and db; a cluster URL connects to the node it names); OSError if
        unreachable, ReplyError if refused, ValueError if the URL is not one of those."""
        parts = urlsplit(node_url(url))
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(parts.path)
            except OSError:
                sock.close()
                raise
        elif parts.scheme in ("redis", "rediss"):
            host = parts.hostname or "localhost"
            sock = socket.create_connection((host, parts.port or DEFAULT_PORT), timeout)
            if parts.scheme == "rediss":
                sock = _tls(sock, host, query)
        else:
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
        connection = cls(sock)
        try:
            password = unquote(parts.password) if parts.password is not None else (
                query.get("password"))
            if password is not None:
                user = unquote(parts.username) if parts.username else None
                connection.call("AUTH", *([user] if user else []), password)
            db = url_db(url)
            if db:
                connection.call("SELECT", db)
        except BaseException:
            connection.close()
            raise
        return connection

    def call(self, *args: str | bytes | int) -> object:
        """Send one command; its reply (bytes, int, list or None); ReplyError for an error."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts += [b"$%d\r\n" % len(data), data, b"\r\n"]
        self.sock.sendall(b"".join(parts))
        reply = self.reader.gets()
        while reply is False:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.reader.feed(data)
            reply = self.reader.gets()
        if isinstance(reply, hiredis.ReplyError):
            raise ReplyError(str(reply))
        return reply

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _tls(sock: socket.socket, host: str, query: dict[str, str]) -> socket.socket:
    """TLS as redis-py's `rediss://` with its `ssl_cert_reqs` and `ssl_ca_certs` options."""
    import ssl  # only here: most masters never need it

    context = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
    if query.get("ssl_cert_reqs", "required").lower() in ("none", "cert_none"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
