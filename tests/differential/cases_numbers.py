"""Every numeric argument the arbiter shares with redis-server 7.0, given numbers of 5,000
and 100,000 digits (past Python's 4,300-digit limit on int(str)): the reply is Redis'
error or value, never an internal error, and costs linear time."""

from __future__ import annotations

from collections.abc import Callable

from . import compare as cmp
from .cases_hashes import small
from .harness import Case, Comparator, case, cmd

HUGE = {
    "5000 digits": "1" * 5000,
    "100000 digits": "9" * 100_000,
    "leading zeros": "0" * 5000 + "7",
    "negative": "-" + "1" * 5000,
    "negative zeros": "-" + "0" * 100_000 + "1",
    "fraction": "1" * 5000 + ".5",
}

# name -> (setup, the command for a number `n`, comparator)
Use = Callable[[str], tuple]
USES: dict[str, tuple[tuple, Use, Comparator]] = {
    "scan cursor": ((), lambda n: ("SCAN", n, "COUNT", "100"), cmp.exact),
    "scan count": ((), lambda n: ("SCAN", "0", "COUNT", n), cmp.exact),
    "hscan cursor": (small(), lambda n: ("HSCAN", "h", n), cmp.exact),
    "hscan cursor missing key": ((), lambda n: ("HSCAN", "nokey", n), cmp.exact),
    "hscan count": (small(), lambda n: ("HSCAN", "h", "0", "COUNT", n), cmp.exact),
    "hincrby": (small(), lambda n: ("HINCRBY", "h", "a", n), cmp.exact),
    "hincrby stored": (("HSET", "h", "a", "1" * 5000), lambda n: ("HINCRBY", "h", "a", "1"),
                       cmp.exact),
    "hincrbyfloat": (small(), lambda n: ("HINCRBYFLOAT", "h", "a", n), cmp.exact),
    "hincrbyfloat stored": (("HSET", "h", "a", "1" * 4900),
                            lambda n: ("HINCRBYFLOAT", "h", "a", "1"), cmp.exact),
    "hrandfield": (small(), lambda n: ("HRANDFIELD", "h", n),
                   cmp.members_of({b"a", b"b", b"c"})),
    "hrandfield withvalues": (small(), lambda n: ("HRANDFIELD", "h", n, "WITHVALUES"),
                              cmp.exact),
    "expire": (small(), lambda n: ("EXPIRE", "h", n), cmp.exact),
    "pexpire": (small(), lambda n: ("PEXPIRE", "h", n), cmp.exact),
    "expireat": (small(), lambda n: ("EXPIREAT", "h", n), cmp.exact),
    "pexpireat": (small(), lambda n: ("PEXPIREAT", "h", n), cmp.exact),
    "select": ((), lambda n: ("SELECT", n), cmp.exact),
    "hello": ((), lambda n: ("HELLO", n), cmp.exact),
    "client list id": ((), lambda n: ("CLIENT", "LIST", "ID", n), cmp.exact),
    "memory usage samples": (small(), lambda n: ("MEMORY", "USAGE", "h", "SAMPLES", n),
                             cmp.kind),
}


def _cases() -> list[Case]:
    cases = []
    for use, (setup, build, compare) in USES.items():
        steps = [cmd(*setup)] if setup else []
        steps += [cmd(*build(number), compare=compare) for number in HUGE.values()]
        cases.append(case(f"huge numbers: {use}", *steps))
    # A stored value of 4,900 digits is a valid long double: HINCRBYFLOAT prints it whole.
    cases.append(case("huge numbers: hincrbyfloat long value",
                      cmd("HINCRBYFLOAT", "h", "a", "1" * 4900), cmd("HGET", "h", "a")))
    return cases


CASES: list[Case] = _cases()
