"""String commands: GET, SET and its variants, MGET/MSET, the counters, APPEND and the
ranges (Redis' t_string.c, with its order of checks and its error texts).

A string value is immutable bytes, stored as it is: every write stores a new value, so
APPEND and SETRANGE cost the length of the result, bounded by `proto-max-bulk-len`
(512 MB by default) as in Redis."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..keyspace import BuiltStr, RawStr, is_hash, string_integer
from ..limits import LONG_MAX, LONG_MIN
from ..registry import Family, KeySpec, single_key
from ._args import int_arg
from .hashes import _format_long_double, _parse_long_double, _round_long_double

STRING = "string"
FAMILY = Family(STRING, categories=STRING)
command = FAMILY.command

# SET and GETEX options, as bits (Redis' OBJ_SET_* flags).
NX, XX, GET, KEEPTTL, PERSIST, EX, PX, EXAT, PXAT = (1 << i for i in range(9))
EXPIRES = EX | PX | EXAT | PXAT
# What each option may not be combined with (parseExtendedStringArgumentsOrReply).
_CONFLICTS = {NX: XX, XX: NX, GET: 0, KEEPTTL: PERSIST | EXPIRES,
              PERSIST: KEEPTTL | EXPIRES, EX: KEEPTTL | PERSIST | EXAT | PX | PXAT,
              PX: KEEPTTL | PERSIST | EX | EXAT | PXAT,
              EXAT: KEEPTTL | PERSIST | EX | PX | PXAT,
              PXAT: KEEPTTL | PERSIST | EX | EXAT | PX}
_OPTIONS = {b"nx": NX, b"xx": XX, b"get": GET, b"keepttl": KEEPTTL, b"persist": PERSIST,
            b"ex": EX, b"px": PX, b"exat": EXAT, b"pxat": PXAT}
_SET_ONLY = NX | XX | GET | KEEPTTL
_UNIT_MS = {EX: 1000, PX: 1, EXAT: 1000, PXAT: 1}


def _options(argv: list[bytes], start: int, for_set: bool) -> tuple[int, bytes | None]:
    """SET's (or GETEX's) options: (flags, the expire argument or None). An option is
    read as Redis reads a C string, up to a NUL byte; repeating one is allowed."""
    flags = 0
    expire = None
    i = start
    while i < len(argv):
        option = _OPTIONS.get(argv[i].partition(b"\0")[0].lower(), 0)
        allowed = option and not flags & _CONFLICTS[option] and (
            for_set if option & _SET_ONLY else option != PERSIST or not for_set)
        if allowed and option & EXPIRES:
            if i + 1 == len(argv):
                allowed = False
            else:
                i += 1
                expire = argv[i]
        if not allowed:
            raise errors.CommandError(errors.SYNTAX)
        flags |= option
        i += 1
    return flags, expire


def _deadline(c: Client, name: str, flags: int, expire: bytes) -> int:
    """The absolute deadline (Unix ms) an EX/PX/EXAT/PXAT argument names, refused as
    Redis' getExpireMillisecondsOrReply refuses it."""
    when = int_arg(expire)
    unit = _UNIT_MS[flags & EXPIRES]
    invalid = errors.CommandError(errors.EXPIRE_INVALID_TIME.format(name))
    if when <= 0 or (unit == 1000 and when > LONG_MAX // 1000):
        raise invalid
    when *= unit
    if flags & (EX | PX):
        when += c.db.now()
        if when > LONG_MAX:
            raise invalid
    return when


def _check_length(c: Client, size: int) -> None:
    """Redis' checkStringLength: no string may grow past proto-max-bulk-len, except when
    replayed from the append-only file (it was allowed when it ran)."""
    if size > c.server.config["proto-max-bulk-len"]:
        from ..aof_loader import LOADER_CLIENT_ID  # (the loader is imported when needed)

        if c.id != LOADER_CLIENT_ID:
            raise errors.CommandError(errors.STRING_TOO_LONG)


def _read(c: Client, key: bytes) -> bytes | None:
    """The string at `key` as Redis' lookupKeyRead finds it inside a write command (GET
    option, GETEX, GETDEL, GETSET): counted as a keyspace hit or miss, as Redis counts
    it, WRONGTYPE included."""
    keyspace = c.db
    keyspace.lookups = c.server.lookups
    try:
        return keyspace.get_string(key)
    finally:
        keyspace.lookups = None


# -- reads -------------------------------------------------------------------------------

@command("get", 2, "readonly fast", syntax="key",
         key_specs=single_key("RO", "access"), since="1.0.0",
         summary="Returns the string value of a key.")
def get(c: Client, argv: list[bytes]) -> None:
    value = c.db.get_string(argv[1])
    c.reply.bulk_or_null(None if value is None else value)


@command("mget", -2, "readonly fast", syntax="key+",
         key_specs=(KeySpec(("RO", "access"), 1, lastkey=-1),),
         tips="request_policy:multi_shard", since="1.0.0",
         complexity="O(N) where N is the number of keys to retrieve.",
         summary="Atomically returns the string values of one or more keys.")
def mget(c: Client, argv: list[bytes]) -> None:
    get = c.db.get
    values = []
    for key in argv[1:]:
        value = get(key)
        values.append(value if value is not None and not is_hash(value) else None)
    c.reply.bulks(values)


@command("strlen", 2, "readonly fast", syntax="key",
         key_specs=single_key("RO"), since="2.2.0",
         summary="Returns the length of a string value.")
def strlen(c: Client, argv: list[bytes]) -> None:
    value = c.db.get_string(argv[1])
    c.reply.integer(0 if value is None else len(value))


def _getrange(c: Client, argv: list[bytes]) -> None:
    start = int_arg(argv[2])
    end = int_arg(argv[3])
    value = c.db.get_string(argv[1])
    if value is None:
        c.reply.bulk(b"")
        return
    data = value
    length = len(data)
    if start < 0 and end < 0 and start > end:
        c.reply.bulk(b"")
        return
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    end = min(end, length - 1)
    c.reply.bulk(b"" if start > end or not length else data[start:end + 1])


RANGE_COMPLEXITY = ("O(N) where N is the length of the returned string. The complexity "
                    "is ultimately determined by the returned length, but because "
                    "creating a substring from an existing string is very cheap, it can "
                    "be considered O(1) for small strings.")
command("getrange", 4, "readonly", syntax="key start:integer end:integer",
        key_specs=single_key("RO", "access"), since="2.4.0", complexity=RANGE_COMPLEXITY,
        summary="Returns a substring of the string stored at a key.")(_getrange)
command("substr", 4, "readonly", syntax="key start:integer end:integer",
        key_specs=single_key("RO", "access"), since="1.0.0", complexity=RANGE_COMPLEXITY,
        summary="Returns a substring from a string value.")(_getrange)


# -- SET and its variants ------------------------------------------------------------------

def _set_generic(c: Client, key: bytes, data: bytes, flags: int, deadline: int) -> bool:
    """Redis' setGenericCommand after its argument checks: the GET reply (when asked),
    the NX/XX condition, then the write. Returns whether the key was set."""
    keyspace = c.db
    if flags & GET:
        old = _read(c, key)
        c.reply.bulk_or_null(None if old is None else old)
        found = old is not None
    else:
        found = keyspace.get(key) is not None
    if (flags & NX and found) or (flags & XX and not found):
        return False
    keyspace.set_string(key, data, deadline, keep_ttl=bool(flags & KEEPTTL))
    return True


@command("set", -3, "write denyoom",
         syntax="key value [NX|XX] [GET] [EX:seconds:integer|PX:milliseconds:integer|"
         "EXAT:unix-time-seconds:unix-time|PXAT:unix-time-milliseconds:unix-time|KEEPTTL]",
         key_specs=(KeySpec(("RW", "access", "update", "variable_flags"), 1,
                            notes="RW and ACCESS due to the optional `GET` argument"),),
         since="1.0.0",
         summary="Sets the string value of a key, ignoring its type. The key is created "
                 "if it doesn't exist.")
def set_(c: Client, argv: list[bytes]) -> None:
    flags, expire = _options(argv, 3, for_set=True)
    deadline = _deadline(c, "set", flags, expire) if expire is not None else 0
    done = _set_generic(c, argv[1], argv[2], flags, deadline)
    if not flags & GET:
        if done:
            c.reply.ok()
        else:
            c.reply.null()


@command("setnx", 3, "write denyoom fast", syntax="key value",
         key_specs=single_key("OW", "insert"), since="1.0.0",
         summary="Set the string value of a key only when the key doesn't exist.")
def setnx(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(1 if _set_generic(c, argv[1], argv[2], NX, 0) else 0)


def _declare_setex(name: str, flag: int, unit: str, since: str, summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> None:
        _set_generic(c, argv[1], argv[3], 0, _deadline(c, name, flag, argv[2]))
        c.reply.ok()

    handler.__name__ = name
    command(name, 4, "write denyoom", syntax=f"key {unit}:integer value",
            key_specs=single_key("OW", "update"), since=since, summary=summary)(handler)


_declare_setex("setex", EX, "seconds", "2.0.0",
               "Sets the string value and expiration time of a key. Creates the key if it "
               "doesn't exist.")
_declare_setex("psetex", PX, "milliseconds", "2.6.0",
               "Sets both string value and expiration time in milliseconds of a key. The "
               "key is created if it doesn't exist.")


@command("getex", -2, "write fast",
         syntax="key [EX:seconds:integer|PX:milliseconds:integer|"
         "EXAT:unix-time-seconds:unix-time|PXAT:unix-time-milliseconds:unix-time|PERSIST]",
         key_specs=(KeySpec(("RW", "access", "update"), 1,
                            notes="RW and UPDATE because it changes the TTL"),),
         since="6.2.0",
         summary="Returns the string value of a key after setting its expiration time.")
def getex(c: Client, argv: list[bytes]) -> None:
    flags, expire = _options(argv, 2, for_set=False)
    keyspace = c.db
    key = argv[1]
    value = _read(c, key)
    if value is None:
        c.reply.null()
        return
    deadline = _deadline(c, "getex", flags, expire) if expire is not None else 0
    c.reply.bulk(value)
    if deadline:
        keyspace.set_expiry(key, value, deadline)  # a past EXAT/PXAT deletes the key
    elif flags & PERSIST:
        keyspace.persist(key, value)


@command("getdel", 2, "write fast", syntax="key",
         key_specs=single_key("RW", "access", "delete"), since="6.2.0",
         summary="Returns the string value of a key after deleting the key.")
def getdel(c: Client, argv: list[bytes]) -> None:
    value = _read(c, argv[1])
    if value is None:
        c.reply.null()
        return
    c.reply.bulk(value)
    c.db.delete(argv[1])


@command("getset", 3, "write denyoom fast", syntax="key value",
         key_specs=single_key("RW", "access", "update"), since="1.0.0",
         summary="Returns the previous string value of a key after setting it to a new "
                 "value.")
def getset(c: Client, argv: list[bytes]) -> None:
    old = _read(c, argv[1])
    c.reply.bulk_or_null(None if old is None else old)
    c.db.set_string(argv[1], argv[2])


def _pairs(name: str, argv: list[bytes]) -> list[bytes]:
    if len(argv) % 2 == 0:
        raise errors.CommandError(errors.WRONG_ARITY.format(name))
    return argv[1:]


MSET_KEYS = (KeySpec(("OW", "update"), 1, lastkey=-1, keystep=2),)


@command("mset", -3, "write denyoom", syntax="(key value)+",
         key_specs=MSET_KEYS,
         tips="request_policy:multi_shard response_policy:all_succeeded", since="1.0.1",
         complexity="O(N) where N is the number of keys to set.",
         summary="Atomically creates or modifies the string values of one or more keys.")
def mset(c: Client, argv: list[bytes]) -> None:
    pairs = _pairs("mset", argv)
    set_string = c.db.set_string
    for i in range(0, len(pairs), 2):
        set_string(pairs[i], pairs[i + 1])
    c.reply.ok()


@command("msetnx", -3, "write denyoom", syntax="(key value)+",
         key_specs=(KeySpec(("OW", "insert"), 1, lastkey=-1, keystep=2),),
         tips="request_policy:multi_shard response_policy:agg_min", since="1.0.1",
         complexity="O(N) where N is the number of keys to set.",
         summary="Atomically modifies the string values of one or more keys only when "
                 "all keys don't exist.")
def msetnx(c: Client, argv: list[bytes]) -> None:
    pairs = _pairs("msetnx", argv)
    keyspace = c.db
    if any(keyspace.get(pairs[i]) is not None for i in range(0, len(pairs), 2)):
        c.reply.integer(0)
        return
    for i in range(0, len(pairs), 2):
        keyspace.set_string(pairs[i], pairs[i + 1])
    c.reply.integer(1)


# -- counters ------------------------------------------------------------------------------

def _incr(c: Client, key: bytes, increment: int) -> None:
    """Redis' incrDecrCommand: the key's integer plus `increment`, its TTL kept."""
    keyspace = c.db
    value = keyspace.get_string(key)
    current = 0
    if value is not None:
        current = string_integer(value)
        if current is None:
            raise errors.CommandError(errors.NOT_INTEGER)
    result = current + increment
    if not LONG_MIN <= result <= LONG_MAX:
        raise errors.CommandError(errors.INCR_OVERFLOW)
    keyspace.set_string(key, b"%d" % result, keep_ttl=True)
    c.reply.integer(result)


COUNTER_KEY = single_key("RW", "access", "update")


@command("incr", 2, "write denyoom fast", syntax="key", key_specs=COUNTER_KEY,
         since="1.0.0",
         summary="Increments the integer value of a key by one. Uses 0 as initial value "
                 "if the key doesn't exist.")
def incr(c: Client, argv: list[bytes]) -> None:
    _incr(c, argv[1], 1)


@command("decr", 2, "write denyoom fast", syntax="key", key_specs=COUNTER_KEY,
         since="1.0.0",
         summary="Decrements the integer value of a key by one. Uses 0 as initial value "
                 "if the key doesn't exist.")
def decr(c: Client, argv: list[bytes]) -> None:
    _incr(c, argv[1], -1)


@command("incrby", 3, "write denyoom fast", syntax="key increment:integer",
         key_specs=COUNTER_KEY, since="1.0.0",
         summary="Increments the integer value of a key by a number. Uses 0 as initial "
                 "value if the key doesn't exist.")
def incrby(c: Client, argv: list[bytes]) -> None:
    _incr(c, argv[1], int_arg(argv[2]))


@command("decrby", 3, "write denyoom fast", syntax="key decrement:integer",
         key_specs=COUNTER_KEY, since="1.0.0",
         summary="Decrements a number from the integer value of a key. Uses 0 as initial "
                 "value if the key doesn't exist.")
def decrby(c: Client, argv: list[bytes]) -> None:
    decrement = int_arg(argv[2])
    if decrement == LONG_MIN:
        raise errors.CommandError(errors.DECR_OVERFLOW)
    _incr(c, argv[1], -decrement)


@command("incrbyfloat", 3, "write denyoom fast", syntax="key increment:double",
         key_specs=COUNTER_KEY, since="2.6.0",
         summary="Increment the floating point value of a key by a number. Uses 0 as "
                 "initial value if the key doesn't exist.")
def incrbyfloat(c: Client, argv: list[bytes]) -> None:
    keyspace = c.db
    value = keyspace.get_string(argv[1])
    current = _parse_long_double(b"0" if value is None else value)
    increment = None if current is None else _parse_long_double(argv[2])
    if increment is None:
        raise errors.CommandError(errors.NOT_FLOAT)
    if isinstance(current, float) or isinstance(increment, float):
        raise errors.CommandError(errors.INCR_NAN)  # an infinity (or NaN) in the sum
    result = _round_long_double(current + increment)
    if result is None:
        raise errors.CommandError(errors.INCR_NAN)
    formatted = _format_long_double(result)
    keyspace.set_string(argv[1], formatted, keep_ttl=True, kind=BuiltStr)
    c.reply.bulk(formatted)


# -- in place: APPEND, SETRANGE ------------------------------------------------------------

@command("append", 3, "write denyoom fast", syntax="key value",
         key_specs=single_key("RW", "insert"), since="2.0.0",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended "
         "value is small and the already present value is of any size, since the dynamic "
         "string library used by Redis will double the free space available on every "
         "reallocation.",
         summary="Appends a string to the value of a key. Creates the key if it doesn't "
                 "exist.")
def append(c: Client, argv: list[bytes]) -> None:
    keyspace = c.db
    value = keyspace.get_string(argv[1])
    if value is None:
        keyspace.set_string(argv[1], argv[2])
        c.reply.integer(len(argv[2]))
        return
    _check_length(c, len(value) + len(argv[2]))
    data = value + argv[2]
    keyspace.set_string(argv[1], data, keep_ttl=True, kind=RawStr)
    c.reply.integer(len(data))


@command("setrange", 4, "write denyoom", syntax="key offset:integer value",
         key_specs=single_key("RW", "update"), since="2.2.0",
         complexity="O(1), not counting the time taken to copy the new string in place. "
         "Usually, this string is very small so the amortized complexity is O(1). "
         "Otherwise, complexity is O(M) with M being the length of the value argument.",
         summary="Overwrites a part of a string value with another by an offset. Creates "
                 "the key if it doesn't exist.")
def setrange(c: Client, argv: list[bytes]) -> None:
    offset = int_arg(argv[2])
    if offset < 0:
        raise errors.CommandError(errors.OFFSET_OUT_OF_RANGE)
    keyspace = c.db
    patch = argv[3]
    value = keyspace.get_string(argv[1])
    old = b"" if value is None else value
    if not patch:
        c.reply.integer(len(old))
        return
    end = offset + len(patch)
    _check_length(c, end)
    if offset > len(old):
        data = b"".join((old, bytes(offset - len(old)), patch))
    else:
        data = b"".join((old[:offset], patch, old[end:]))
    keyspace.set_string(argv[1], data, keep_ttl=True, kind=RawStr)
    c.reply.integer(len(data))

