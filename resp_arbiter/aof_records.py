"""What goes into the append-only file: commands in RESP, written so that replaying them
rebuilds the same data at any later time.

Two producers live here. `propagate` turns a write command that just ran into the
records to log: most commands are logged as they came, but every time is logged as an
absolute deadline (PEXPIREAT, HPEXPIREAT), commands whose effect depends on the clock or
on conditions are logged as their outcome (read from the keyspace after the command), and
HINCRBYFLOAT is logged as the HSET of its result, as Redis does. `snapshot` turns the
whole keyspace into the commands of a base file (HSET in batches, PEXPIREAT, HPEXPIREAT,
STASH.ENSURE for pinned tables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .keyspace import Keyspace, Table, Value, is_hash

Record = list[bytes]
# Fields per HSET (and per HPEXPIREAT) in a base file, as Redis' AOF_REWRITE_ITEMS_PER_CMD.
ITEMS_PER_COMMAND = 64

MULTI: Record = [b"MULTI"]
EXEC: Record = [b"EXEC"]


# `$<length>\r\n` for the usual lengths, made once: encoding is on every write's path.
BULK_HEADERS = [b"$%d\r\n" % length for length in range(1024)]


def encode(record: Record, out: bytearray) -> None:
    """Append one command to `out` as a RESP array of bulk strings."""
    out += b"*%d\r\n" % len(record)
    headers = BULK_HEADERS
    for arg in record:
        length = len(arg)
        out += headers[length] if length < 1024 else b"$%d\r\n" % length
        out += arg
        out += b"\r\n"


def encode_unit(records: list[Record], out: bytearray) -> None:
    """Append records that must load together: more than one is wrapped in MULTI/EXEC,
    so a torn tail drops them whole."""
    if len(records) == 1:
        encode(records[0], out)
        return
    encode(MULTI, out)
    for record in records:
        encode(record, out)
    encode(EXEC, out)


# -- propagation of executed commands ---------------------------------------------------

Rewrite = Callable[[Keyspace, Record], list[Record]]


def _key_state(keyspace: Keyspace, argv: Record) -> list[Record]:
    """EXPIRE and friends: the key's deadline as it is now, or its deletion."""
    key = argv[1]
    if not keyspace.holds(key):
        return [[b"DEL", key]]
    deadline = keyspace.deadline_of(key)
    if deadline:
        return [[b"PEXPIREAT", key, b"%d" % deadline]]
    return []


def field_state(key: bytes, table: Table | None, fields: Iterable[bytes]) -> list[Record]:
    """The deadlines of `fields` as they are now (HPEXPIREAT per deadline), and the
    deletion (HDEL) of those that are gone."""
    if table is None:
        return [[b"DEL", key]]
    by_deadline: dict[int, list[bytes]] = {}
    gone: list[bytes] = []
    for field in dict.fromkeys(fields):
        if not table.has(field):
            gone.append(field)
            continue
        deadline = table.deadline(field)
        if deadline is not None:
            by_deadline.setdefault(deadline, []).append(field)
    records = [[b"HPEXPIREAT", key, b"%d" % deadline, b"FIELDS", b"%d" % len(names), *names]
               for deadline, names in by_deadline.items()]
    if gone:
        records.append([b"HDEL", key, *gone])
    return records


def _fields_after(argv: Record, at: int) -> list[bytes]:
    """The field names of `FIELDS numfields field...` at argv[at]."""
    return argv[at + 2:]


def _hexpire(keyspace: Keyspace, argv: Record) -> list[Record]:
    at = 4 if argv[3].lower() in (b"nx", b"xx", b"gt", b"lt") else 3
    return field_state(argv[1], keyspace.stored(argv[1]), _fields_after(argv, at))


def _hgetex(keyspace: Keyspace, argv: Record) -> list[Record]:
    option = argv[2].lower()
    if option == b"persist":
        return [[b"HPERSIST", argv[1], *argv[3:]]] if keyspace.holds(argv[1]) else []
    if option in (b"ex", b"px", b"exat", b"pxat"):
        return field_state(argv[1], keyspace.stored(argv[1]), _fields_after(argv, 4))
    return []  # a read: lazily expired fields were logged as they went


def _hsetex(keyspace: Keyspace, argv: Record) -> list[Record]:
    i = 2
    while argv[i].lower() != b"fields":
        i += 2 if argv[i].lower() in (b"ex", b"px", b"exat", b"pxat") else 1
    pairs = argv[i + 2:]
    wanted = dict(zip(pairs[0::2], pairs[1::2], strict=True))
    table = keyspace.stored(argv[1])
    if table is not None and any(table.value(field) not in (None, value)
                                 for field, value in wanted.items()):
        return []  # FNX/FXX refused (the hook ran because lazy expiry changed something)
    return [[b"HSET", argv[1], *pairs], *field_state(argv[1], table, wanted)]


def _hincrbyfloat(keyspace: Keyspace, argv: Record) -> list[Record]:
    key, field = argv[1], argv[2]
    table = keyspace.stored(key)
    value = table.value(field) if table is not None else None
    if value is None:
        return []
    records = [[b"HSET", key, field, value]]
    if table.deadline(field) is not None:
        records += field_state(key, table, [field])
    return records


def _hgetdel(keyspace: Keyspace, argv: Record) -> list[Record]:
    return [[b"HDEL", argv[1], *_fields_after(argv, 2)]]


def _string_state(keyspace: Keyspace, argv: Record) -> list[Record]:
    """SET and friends: the string as it is now, with its absolute deadline (Redis 7
    propagates SET with EX/PX as SET ... PXAT), or the key's deletion."""
    key = argv[1]
    value = keyspace.stored(key)
    if value is None:
        return [[b"DEL", key]]
    if is_hash(value):
        return []  # the string command was refused (WRONGTYPE) after a lazy expiry
    deadline = keyspace.deadline_of(key)
    if deadline:
        return [[b"SET", key, value, b"PXAT", b"%d" % deadline]]
    return [[b"SET", key, value]]


def _ttl_state(keyspace: Keyspace, argv: Record) -> list[Record]:
    """GETEX: the key's deadline as it is now (PEXPIREAT or PERSIST), or its deletion."""
    key = argv[1]
    if not keyspace.holds(key):
        return [[b"DEL", key]]
    deadline = keyspace.deadline_of(key)
    if deadline:
        return [[b"PEXPIREAT", key, b"%d" % deadline]]
    return [[b"PERSIST", key]]


def _getdel(keyspace: Keyspace, argv: Record) -> list[Record]:
    return [[b"DEL", argv[1]]]


def _setrange(keyspace: Keyspace, argv: Record) -> list[Record]:
    """Logged as it ran, unless it left no key: then it was refused (or wrote nothing)
    after lazy expiry removed the key, and replaying it (the loader is not held to
    proto-max-bulk-len) must not make the string it refused."""
    if keyspace.holds(argv[1]):
        return [argv]
    return [[b"DEL", argv[1]]]


def _incrbyfloat(keyspace: Keyspace, argv: Record) -> list[Record]:
    """Logged as the SET of its result, its TTL kept, as Redis propagates it."""
    value = keyspace.stored(argv[1])
    if value is None or is_hash(value):
        return []
    return [[b"SET", argv[1], value, b"KEEPTTL"]]


REWRITES: dict[str, Rewrite] = {
    "expire": _key_state, "pexpire": _key_state, "expireat": _key_state,
    "pexpireat": _key_state,
    "hexpire": _hexpire, "hpexpire": _hexpire, "hexpireat": _hexpire, "hpexpireat": _hexpire,
    "hgetex": _hgetex, "hsetex": _hsetex, "hincrbyfloat": _hincrbyfloat,
    "hgetdel": _hgetdel,
    "set": _string_state, "setex": _string_state, "psetex": _string_state,
    "getset": _string_state, "getex": _ttl_state, "getdel": _getdel,
    "incrbyfloat": _incrbyfloat, "setrange": _setrange,
}


def propagate(name: str, keyspace: Keyspace, argv: Record) -> list[Record]:
    """The records that log the write command `name` (`argv`), which has just run."""
    rewrite = REWRITES.get(name)
    return [argv] if rewrite is None else rewrite(keyspace, argv)


def reclaimed(key: bytes, fields: list[bytes] | None) -> Record:
    """Expiry (or eviction) outside a command, logged as the deletion it was."""
    return [b"DEL", key] if fields is None else [b"HDEL", key, *fields]


# -- snapshot of the keyspace (a base file) ---------------------------------------------

def snapshot(tables: dict[bytes, Value],
             deadlines: dict[bytes, int] | None = None) -> Iterator[Record]:
    """Commands that rebuild `tables` (with the keys' `deadlines`), key by key;
    deadlines stay absolute, so a key or field already due is loaded and reclaimed as it
    would have been."""
    key_deadlines = deadlines or {}
    for key, table in tables.items():
        key_deadline = key_deadlines.get(key)
        if not is_hash(table):
            yield [b"SET", key, table]
            if key_deadline:
                yield [b"PEXPIREAT", key, b"%d" % key_deadline]
            continue
        if table.pinned:
            yield [b"STASH.ENSURE", key]
        items = list(table.items())
        for start in range(0, len(items), ITEMS_PER_COMMAND):
            record = [b"HSET", key]
            for field, value in items[start:start + ITEMS_PER_COMMAND]:
                record += (field, value)
            yield record
        deadlines = table.deadlines()
        if deadlines:
            by_deadline: dict[int, list[bytes]] = {}
            for field, deadline in deadlines:
                by_deadline.setdefault(deadline, []).append(field)
            for deadline, names in by_deadline.items():
                for start in range(0, len(names), ITEMS_PER_COMMAND):
                    chunk = names[start:start + ITEMS_PER_COMMAND]
                    yield [b"HPEXPIREAT", key, b"%d" % deadline, b"FIELDS",
                           b"%d" % len(chunk), *chunk]
        if key_deadline:
            yield [b"PEXPIREAT", key, b"%d" % key_deadline]
