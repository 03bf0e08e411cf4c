"""Numbers of 5,000 and 100,000 digits in the commands redis-server 7.0 does not have
(hash field expiry, from Redis 7.4/8.0), so that no differential case covers them.

Each such argument must get the reply an out-of-range 20-digit number gets (Redis reads
both as a failed string2ll), never an internal error, and in linear time. The commands
shared with 7.0 are compared with redis-server in differential/cases_numbers.py.
"""

from __future__ import annotations

import pytest
from differential.session import session
from servers import ServerProcess

OUT_OF_RANGE = "99999999999999999999"
HUGE = ["1" * 5000, "9" * 100_000, "-" + "1" * 5000, "0" * 5000 + "7"]

# Each template has one "{}" where the number goes.
TEMPLATES = [
    *[(name, "h", "{}", "FIELDS", "1", "f")
      for name in ("HEXPIRE", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT")],
    *[(name, "h", "100", "FIELDS", "{}", "f")
      for name in ("HEXPIRE", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT")],
    *[(name, "h", "FIELDS", "{}", "f")
      for name in ("HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST", "HGETDEL")],
    *[("HGETEX", "h", option, "{}", "FIELDS", "1", "f")
      for option in ("EX", "PX", "EXAT", "PXAT")],
    ("HGETEX", "h", "FIELDS", "{}", "f"),
    *[("HSETEX", "h", option, "{}", "FIELDS", "1", "f", "v")
      for option in ("EX", "PX", "EXAT", "PXAT")],
    ("HSETEX", "h", "FIELDS", "{}", "f", "v"),
]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: " ".join(t))
def test_huge_numbers_answer_like_out_of_range_ones(arbiter: ServerProcess,
                                                    template: tuple[str, ...]) -> None:
    def argv(number: str) -> list[str]:
        return [number if part == "{}" else part for part in template]

    with session(arbiter.socket_path) as s:
        assert s.call("HSET", "h", "f", "v").raw == b":1\r\n"
        expected = s.call(*argv(OUT_OF_RANGE))
        assert expected.kind == "-" and b"internal error" not in expected.raw
        for number in HUGE:
            assert s.call(*argv(number)).raw == expected.raw, number[:10]
