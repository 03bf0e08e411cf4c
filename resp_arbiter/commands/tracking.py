"""Client-side caching: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO; and the Pub/Sub
subscriptions a RESP2 client needs to receive invalidations (SUBSCRIBE, UNSUBSCRIBE,
PSUBSCRIBE, PUNSUBSCRIBE). Nothing is ever published but invalidations, sent straight to
the redirect client as Redis does, so any other channel or pattern behaves as one nobody
publishes to. The table and the delivery live in `resp_arbiter.tracking`.
"""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import Family
from ._args import int_arg, text

FAMILY = Family("connection", categories="connection")
PUBSUB = Family("pubsub", categories="pubsub")
CLIENT_FLAGS = "noscript loading stale"
PUBSUB_FLAGS = "pubsub noscript loading stale"


@FAMILY.command("tracking", -3, CLIENT_FLAGS, parent="client", since="6.0.0",
                syntax="ON|OFF [REDIRECT:client-id:integer] [PREFIX:prefix]+ [BCAST] "
                       "[OPTIN] [OPTOUT] [NOLOOP]",
                complexity="O(1). Some options may introduce additional complexity.",
                summary="Controls server-assisted client-side caching for the connection.")
def client_tracking(c: Client, argv: list[bytes]) -> None:
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 3
    while j < len(argv):
        option = argv[j].lower()
        more = len(argv) - 1 - j
        if option == b"redirect" and more:
            j += 1
            if redirect != 0:
                raise errors.CommandError(errors.TRACKING_ONE_REDIRECT)
            redirect = int_arg(argv[j])
            if redirect not in c.server.clients:
                raise errors.CommandError(errors.TRACKING_NO_REDIRECT_CLIENT)
        elif option == b"bcast":
            bcast = True
        elif option == b"optin":
            optin = True
        elif option == b"optout":
            optout = True
        elif option == b"noloop":
            noloop = True
        elif option == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise errors.CommandError(errors.SYNTAX)
        j += 1
    mode = argv[2].lower()
    tracking = c.server.tracking
    if mode == b"on":
        state = c.tracking
        if not bcast and prefixes:
            raise errors.CommandError(errors.TRACKING_PREFIX_NEEDS_BCAST)
        if state is not None and state.bcast != bcast:
            raise errors.CommandError(errors.TRACKING_BCAST_SWITCH)
        if bcast and (optin or optout):
            raise errors.CommandError(errors.TRACKING_OPT_BCAST)
        if optin and optout:
            raise errors.CommandError(errors.TRACKING_OPTIN_AND_OPTOUT)
        if state is not None and ((optin and state.optout) or (optout and state.optin)):
            raise errors.CommandError(errors.TRACKING_OPT_SWITCH)
        if bcast:
            _check_prefixes(state.prefixes if state is not None else [], prefixes)
        tracking.enable(c, redirect, bcast, optin, optout, noloop, prefixes)
    elif mode == b"off":
        tracking.disable(c)
    else:
        raise errors.CommandError(errors.SYNTAX)
    c.reply.ok()


def _check_prefixes(existing: list[bytes], given: list[bytes]) -> None:
    """No prefix of one client may be a prefix of another (Redis'
    checkPrefixCollisionsOrReply, which prints the prefixes as C strings)."""
    for i, prefix in enumerate(given):
        for old in sorted(existing):
            if old.startswith(prefix) or prefix.startswith(old):
                raise errors.CommandError(errors.TRACKING_PREFIX_OVERLAPS_EXISTING.format(
                    _c_text(prefix), _c_text(old)))
        for other in given[i + 1:]:
            if other.startswith(prefix) or prefix.startswith(other):
                raise errors.CommandError(errors.TRACKING_PREFIX_OVERLAPS_GIVEN.format(
                    _c_text(prefix), _c_text(other)))


def _c_text(arg: bytes) -> str:
    return text(arg.split(b"\0", 1)[0])


@FAMILY.command("caching", 3, CLIENT_FLAGS, parent="client", since="6.0.0",
                syntax="YES|NO",
                summary="Instructs the server whether to track the keys in the next request.")
def client_caching(c: Client, argv: list[bytes]) -> None:
    state = c.tracking
    if state is None:
        raise errors.CommandError(errors.CACHING_NOT_TRACKING)
    mode = argv[2].lower()
    if mode == b"yes":
        if not state.optin:
            raise errors.CommandError(errors.CACHING_YES_NOT_OPTIN)
    elif mode == b"no":
        if not state.optout:
            raise errors.CommandError(errors.CACHING_NO_NOT_OPTOUT)
    else:
        raise errors.CommandError(errors.SYNTAX)
    state.caching = True
    c.reply.ok()


@FAMILY.command("getredir", 2, CLIENT_FLAGS, parent="client", since="6.0.0",
                summary="Returns the client ID to which the connection's tracking "
                        "notifications are redirected.")
def client_getredir(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.tracking.redirect if c.tracking is not None else -1)


@FAMILY.command("trackinginfo", 2, CLIENT_FLAGS, parent="client", since="6.2.0",
                summary="Returns information about server-assisted client-side caching "
                        "for the connection.")
def client_trackinginfo(c: Client, argv: list[bytes]) -> None:
    state = c.tracking
    r = c.reply
    r.map_len(3)
    r.bulk(b"flags")
    flags = state.flags() if state is not None else [b"off"]
    r.set_len(len(flags))
    for flag in flags:
        r.bulk(flag)
    r.bulk(b"redirect")
    r.integer(state.redirect if state is not None else -1)
    r.bulk(b"prefixes")
    prefixes = sorted(state.prefixes) if state is not None else []
    r.array_len(len(prefixes))
    for prefix in prefixes:
        r.bulk(prefix)


# -- Pub/Sub, as far as invalidations need it -------------------------------------------

def _notice(c: Client, kind: bytes, name: bytes | None, count: int) -> None:
    """A (un)subscribe confirmation: an array in RESP2, a push in RESP3."""
    out = c.out
    out += b">3\r\n" if c.resp == 3 else b"*3\r\n"
    c.reply.bulk(kind)
    c.reply.bulk_or_null(name)
    c.reply.integer(count)


@PUBSUB.command("subscribe", -2, PUBSUB_FLAGS, since="2.0.0", syntax="channel+",
                complexity="O(N) where N is the number of channels to subscribe to.",
                summary="Listens for messages published to channels.")
def subscribe(c: Client, argv: list[bytes]) -> None:
    subscriptions = c.server.subscriptions_of(c)
    for channel in argv[1:]:
        subscriptions.channels[channel] = None
        _notice(c, b"subscribe", channel, subscriptions.count())


@PUBSUB.command("psubscribe", -2, PUBSUB_FLAGS, since="2.0.0", syntax="pattern:pattern+",
                complexity="O(N) where N is the number of patterns to subscribe to.",
                summary="Listens for messages published to channels that match one or "
                        "more patterns.")
def psubscribe(c: Client, argv: list[bytes]) -> None:
    subscriptions = c.server.subscriptions_of(c)
    for pattern in argv[1:]:
        subscriptions.patterns[pattern] = None
        _notice(c, b"psubscribe", pattern, subscriptions.count())


def _unsubscribe(c: Client, argv: list[bytes], kind: bytes, patterns: bool) -> None:
    subscriptions = c.subscriptions
    names = (subscriptions.patterns if patterns else subscriptions.channels) \
        if subscriptions is not None else {}
    wanted = argv[1:] if len(argv) > 1 else list(names)
    if not wanted:
        _notice(c, kind, None, subscriptions.count() if subscriptions is not None else 0)
    for name in wanted:
        names.pop(name, None)
        _notice(c, kind, name, subscriptions.count() if subscriptions is not None else 0)
    if subscriptions is not None and not subscriptions.count():
        c.server.leave_pubsub(c)


@PUBSUB.command("unsubscribe", -1, PUBSUB_FLAGS, since="2.0.0", syntax="[channel+]",
                complexity="O(N) where N is the number of channels to unsubscribe.",
                summary="Stops listening to messages posted to channels.")
def unsubscribe(c: Client, argv: list[bytes]) -> None:
    _unsubscribe(c, argv, b"unsubscribe", False)


@PUBSUB.command("punsubscribe", -1, PUBSUB_FLAGS, since="2.0.0", syntax="[pattern:pattern+]",
                complexity="O(N) where N is the number of patterns to unsubscribe.",
                summary="Stops listening to messages published to channels that match "
                        "one or more patterns.")
def punsubscribe(c: Client, argv: list[bytes]) -> None:
    _unsubscribe(c, argv, b"punsubscribe", True)
