"""client-output-buffer-limit in CONFIG SET and CONFIG GET, byte for byte against
redis-server 7.0: the value's grammar (groups of class, hard, soft, seconds; memory
units; C's integer wrap-around), its error texts, and how CONFIG GET prints it. Both
servers are this module's own, so that the limits set here reach no other test."""

from __future__ import annotations

import pytest
from differential.harness import Case, case, check, cmd, params
from differential.session import session
from servers import Pair, PairFactory

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential

NAME = "client-output-buffer-limit"
REDIS_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"

VALUES = [
    "NORMAL 1KB 2Mb 3", "replica 1gb 1g 7", "slave 10 20 30", "pubsub 1k 1m 0",
    "normal  1 2", "", "pubsub 1 2 3 normal 4 5 6 normal 7 8 9",
    "normal 18446744073709551615 1 1", "normal 18446744073709551616 1 1",
    "normal 99999999999999999999999gb 1 1", "normal 1 1 2147483647",
    "normal 1 1 4294967296", "normal 1 1 +5", "normal 1 1 \t5", "normal kb mb 0",
    "normal 5B 6b 0",
]
BAD_VALUES = [
    "wrong number", "normal 1 2 3 ", " normal 1 2 3", "invalid_class 10mb 10mb 60",
    "master 10mb 10mb 60", "normal 10mbs 10mb 60", "normal -1 0 0", "normal 1 -1 0",
    "normal 1 1 -1", "normal 1 1 2147483648", "normal 1 1 99999999999999999999",
    "normal +1 1 1", "normal 0x10 0 0", "normal 1 1 0x10", "normal 1 1 x",
    "normal 1 2 x pubsub 1 1 1", "normal 1 1 1.5", "normal 1.5mb 1 1",
    "normal " + "1" * 128 + " 0 0", "normal 1 1 5 ",
]


def _steps() -> list:
    steps = [cmd("CONFIG", "SET", NAME, REDIS_DEFAULT), cmd("CONFIG", "GET", NAME)]
    for value in VALUES:
        steps += [cmd("CONFIG", "SET", NAME, value), cmd("CONFIG", "GET", NAME)]
    for value in BAD_VALUES:
        steps += [cmd("CONFIG", "SET", NAME, value), cmd("CONFIG", "GET", NAME)]
    steps += [cmd("CONFIG", "SET", NAME, "normal 1 2 3", "timeout", "x"),
              cmd("CONFIG", "GET", NAME),
              cmd("CONFIG", "SET", NAME, "normal 4 5 6", "timeout", "0"),
              cmd("CONFIG", "GET", "client-output-buffer-*"),
              cmd("CONFIG", "GET", "CLIENT-OUTPUT-BUFFER-LIMIT"),
              cmd("CONFIG", "SET", NAME, "normal 1 1 1", NAME, "normal 2 2 2")]
    return steps


CASES: list[Case] = [case("client-output-buffer-limit set and get", *_steps())]


@pytest.fixture(scope="module")
def own_pair(module_server_pair: PairFactory) -> Pair:
    """A pair of its own: the cases change the limits with CONFIG SET."""
    return module_server_pair()


@pytest.mark.parametrize(("case", "protocol"), params(CASES))
def test_output_limit_config_matches_redis(
        case: Case, protocol: int, own_pair: Pair) -> None:
    arbiter, redis_server = own_pair
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)


def test_normal_clients_are_limited_by_default(server_pair: PairFactory) -> None:
    # Difference: Redis leaves normal clients unlimited (`normal 0 0 0`); the arbiter's
    # default bounds a client that stops reading its replies (256 MB, or 64 MB for
    # more than a minute), the limits Redis gives replicas.
    arbiter, redis_server = server_pair()
    with session(redis_server.socket_path) as r:
        assert r.call("CONFIG", "GET", NAME).children[1].value == REDIS_DEFAULT.encode()
    with session(arbiter.socket_path) as a:
        assert a.call("CONFIG", "GET", NAME).children[1].value == (
            b"normal 268435456 67108864 60 slave 268435456 67108864 60 "
            b"pubsub 33554432 8388608 60")
