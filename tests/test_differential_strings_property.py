"""Random sequences of string (and some hash and key) commands on a few shared keys, run
on redis-server 7.0 and on the arbiter: every reply must be identical, byte for byte, in
RESP2 and RESP3. Values sit around the encodings' edges (integers, 44/45 bytes, floats),
so type changes, WRONGTYPE, encodings and counter formatting all meet."""

from __future__ import annotations

import pytest
from differential.session import session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import Pair

pytestmark = pytest.mark.differential

key = st.sampled_from(["a", "b", "c"])
value = st.one_of(
    st.sampled_from(["0", "1", "-1", "9999", "10000", "9223372036854775807",
                     "-9223372036854775808", "1.5", "10.5", "5.0e3", "1e-17", "abc", "",
                     "x" * 44, "x" * 45, "01", " 1", "inf"]),
    st.binary(max_size=50),
)
number = st.sampled_from(["1", "-1", "0", "7", "1000", "9223372036854775807", "x", "1.5"])
float_number = st.sampled_from(["0.1", "-0.5", "1e3", "1e308", "5.0e3", "x", "inf", "3"])
small = st.integers(-60, 60).map(str)
ttl_option = st.sampled_from([[], ["EX", "1000"], ["PX", "5000000"], ["KEEPTTL"],
                              ["EXAT", "4102444800"]])
_COMMANDS = [
    st.builds(lambda k, v, c, g, t: ["SET", k, v, *c, *g, *t], key, value,
              st.sampled_from([[], ["NX"], ["XX"]]), st.sampled_from([[], ["GET"]]),
              ttl_option),
    st.builds(lambda k: ["GET", k], key),
    st.builds(lambda ks: ["MGET", *ks], st.lists(key, min_size=1, max_size=4)),
    st.builds(lambda c, kv: [c, *[x for pair in kv for x in pair]],
              st.sampled_from(["MSET", "MSETNX"]),
              st.lists(st.tuples(key, value), min_size=1, max_size=3)),
    st.builds(lambda c, k, v: [c, k, v], st.sampled_from(["SETNX", "GETSET", "APPEND"]),
              key, value),
    st.builds(lambda c, k: [c, k],
              st.sampled_from(["GETDEL", "INCR", "DECR", "STRLEN", "TYPE", "EXISTS", "DEL",
                               "PERSIST"]), key),
    st.builds(lambda k, o: ["GETEX", k, *o], key,
              st.sampled_from([[], ["PERSIST"], ["EX", "100"], ["PXAT", "4102444800000"]])),
    st.builds(lambda c, k, n: [c, k, n], st.sampled_from(["INCRBY", "DECRBY"]), key, number),
    st.builds(lambda k, n: ["INCRBYFLOAT", k, n], key, float_number),
    st.builds(lambda k, o, v: ["SETRANGE", k, o, v], key, st.integers(0, 60).map(str),
              value),
    st.builds(lambda c, k, s, e: [c, k, s, e], st.sampled_from(["GETRANGE", "SUBSTR"]), key,
              small, small),
    st.builds(lambda s, k: ["OBJECT", s, k], st.sampled_from(["ENCODING", "REFCOUNT"]), key),
    st.builds(lambda k, v: ["HSET", k, "f", v], key, value),
    st.builds(lambda k: ["HGET", k, "f"], key),
    st.builds(lambda a, b: ["RENAME", a, b], key, key),
    st.builds(lambda k: ["EXPIRE", k, "1000"], key),
]
command = st.integers(0, len(_COMMANDS) - 1).flatmap(_COMMANDS.__getitem__)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(command, min_size=1, max_size=25), protocol=st.sampled_from([2, 3]))
def test_random_string_sequences_reply_as_redis_does(session_pair: Pair, commands, protocol):
    with session(session_pair.redis.socket_path, protocol) as redis_side, \
            session(session_pair.arbiter.socket_path, protocol) as arbiter_side:
        assert redis_side.call("FLUSHALL").raw == arbiter_side.call("FLUSHALL").raw
        for argv in commands:
            expected, actual = redis_side.call(*argv), arbiter_side.call(*argv)
            assert actual.raw == expected.raw, (argv, expected.raw, actual.raw)
