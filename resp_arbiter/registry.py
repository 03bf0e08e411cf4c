"""The command table: each command is declared once, next to its code, with `@command`.

A declaration is a row of Redis' own command table (name, arity, flags, key positions,
ACL categories, tips, key specs) plus its documentation. Dispatch reads arity and flags
from it, COMMAND INFO/DOCS/COUNT/LIST answer from it, and the `write` flag is what the
server's single write path (`Server.call`) keys on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client

Handler = Callable[["Client", list[bytes]], None]

# The order redis-server prints flags and ACL categories in.
_FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
               "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
               "fast", "no_auth", "may_replicate", "sentinel", "only_sentinel",
               "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy")
_CATEGORY_ORDER = ("keyspace", "read", "write", "set", "sortedset", "list", "hash",
                   "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
                   "fast", "slow", "blocking", "dangerous", "connection", "transaction",
                   "scripting")


@dataclass(frozen=True)
class KeySpec:
    """One Redis key spec: an index begin_search and a range find_keys."""

    flags: tuple[str, ...]
    index: int
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    notes: str = ""


@dataclass(eq=False)
class Command:
    name: str
    handler: Handler | None
    arity: int
    flags: tuple[str, ...]
    categories: tuple[str, ...]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    tips: tuple[str, ...] = ()
    key_specs: tuple[KeySpec, ...] = ()
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    complexity: str = ""
    syntax: str = ""
    parent: Command | None = None
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    # Derived once, read on every call.
    is_write: bool = False
    no_auth: bool = False
    runs_in_multi: bool = False
    full_name: str = ""
    # Read commands with keys count keyspace hits and misses (Redis' lookupKeyRead).
    counts_lookups: bool = False
    # Redis hides admin and skip_monitor commands from MONITOR, skip_slowlog ones from
    # the slow log.
    monitored: bool = True
    slowlogged: bool = True
    # Dispatch may take its fast path (`Server.call`): a top-level command without
    # subcommands (and with a handler of its own) that is not EXEC.
    plain: bool = False

    def accepts(self, argc: int) -> bool:
        arity = self.arity
        return argc == arity if arity > 0 else argc >= -arity


# Commands a client in MULTI runs at once instead of queueing (Redis' processCommand).
_RUN_IN_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))
# Read commands whose key lookup Redis does not count as a keyspace hit or miss (they
# look in the keyspace's dict directly).
_NO_LOOKUP_STATS = frozenset(("memory|usage",))

COMMANDS: dict[bytes, Command] = {}
"""Top-level commands by lower-case name."""


def _ordered(values: set[str], order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for v in order if v in values)


def _implicit_categories(flags: set[str], extra: str) -> tuple[str, ...]:
    """Redis' setImplicitACLCategories, plus the categories declared with the command."""
    categories = set(extra.split())
    if "write" in flags:
        categories.add("write")
    if "readonly" in flags and "scripting" not in categories:
        categories.add("read")
    if "admin" in flags:
        categories.update(("admin", "dangerous"))
    categories.add("fast" if "fast" in flags else "slow")
    return _ordered(categories, _CATEGORY_ORDER)


def single_key(*flags: str) -> tuple[KeySpec, ...]:
    """The key specs of a command whose only key is its first argument."""
    return (KeySpec(flags, 1),)


def legacy_key_range(key_specs: tuple[KeySpec, ...]) -> tuple[int, int, int]:
    """COMMAND INFO's first key, last key and step, derived from the key specs as Redis'
    populateCommandLegacyRangeSpec does: the range the specs cover together (a negative
    last key counts from the end); (0, 0, 0) for a command without keys."""
    if not key_specs:
        return 0, 0, 0
    first = min(spec.index for spec in key_specs)
    ends = [spec.lastkey if spec.lastkey < 0 else spec.index + spec.lastkey
            for spec in key_specs]
    last = min(ends) if min(ends) < 0 else max(ends)
    return first, last, key_specs[0].keystep


def command(name: str, arity: int, flags: str = "", *, categories: str = "",
            key_specs: tuple[KeySpec, ...] = (),
            tips: str = "", group: str = "generic", since: str = "1.0.0",
            summary: str = "", complexity: str = "O(1)", syntax: str = "",
            parent: str | None = None) -> Callable[[Handler], Handler]:
    """Declare a command (or, with `parent`, a subcommand such as CLIENT ID).

    `syntax` describes the arguments for COMMAND DOCS (and so redis-cli's hints), in a
    compact form read by `parse_syntax`."""
    flag_set = set(flags.split())
    unknown = flag_set.difference(_FLAG_ORDER)
    if unknown:
        raise ValueError(f"unknown command flags {unknown}")

    first_key, last_key, step = legacy_key_range(key_specs)

    def register(handler: Handler) -> Handler:
        spec = Command(
            name=name, handler=handler, arity=arity, flags=_ordered(flag_set, _FLAG_ORDER),
            categories=_implicit_categories(flag_set, categories), first_key=first_key,
            last_key=last_key, step=step, tips=tuple(tips.split()), key_specs=key_specs,
            group=group, since=since, summary=summary, complexity=complexity,
            syntax=syntax, is_write="write" in flag_set, no_auth="no_auth" in flag_set,
            runs_in_multi=name in _RUN_IN_MULTI and parent is None,
            counts_lookups="readonly" in flag_set and bool(key_specs)
            and (name if parent is None else f"{parent}|{name}") not in _NO_LOOKUP_STATS,
            monitored=not flag_set & {"admin", "skip_monitor"},
            slowlogged="skip_slowlog" not in flag_set,
            plain=parent is None and name != "exec")
        if parent is None:
            spec.full_name = name
            COMMANDS[name.encode()] = spec
        else:
            container = COMMANDS[parent.encode()]
            spec.parent = container
            spec.full_name = f"{parent}|{name}"
            container.subcommands[name.encode()] = spec
            container.plain = False  # its requests are looked up again by subcommand
        return handler

    return register


@dataclass(frozen=True)
class Family:
    """A command family's group and ACL categories, given once for all its declarations
    (a command's own `categories` are added to the family's)."""

    group: str
    categories: str = ""

    def command(self, name: str, arity: int, flags: str = "", *, categories: str = "",
                **options: Any) -> Callable[[Handler], Handler]:
        options.setdefault("group", self.group)
        return command(name, arity, flags, categories=self._with(categories), **options)

    def container(self, name: str, **options: Any) -> None:
        """A container of subcommands (its own categories are only @slow, as in Redis)."""
        container(name, group=self.group, **options)

    def _with(self, categories: str) -> str:
        return f"{self.categories} {categories}".strip()


def container(name: str, categories: str = "", *, group: str, since: str,
              summary: str) -> None:
    """Declare a command made of subcommands (CLIENT, CONFIG, COMMAND, MEMORY)."""
    COMMANDS[name.encode()] = Command(
        name=name, handler=None, arity=-2, flags=(),
        categories=_implicit_categories(set(), categories), group=group, since=since,
        summary=summary, complexity="Depends on subcommand.", full_name=name)


_SPELLINGS: dict[bytes, Command] = {}
_MAX_SPELLINGS = 4096
spelled = _SPELLINGS
"""Spellings of top-level command names seen before (HSET, hset, ...): `lookup` fills
it; `Server.call` reads it first."""


def lookup(name: bytes) -> Command | None:
    """The top-level command called `name`, whatever its case.

    Spellings seen before (HSET, hset, HSet) are found with one dict lookup, without
    lower-casing each request's name."""
    spec = _SPELLINGS.get(name)
    if spec is None:
        spec = COMMANDS.get(name.lower())
        if spec is not None and len(_SPELLINGS) < _MAX_SPELLINGS:
            _SPELLINGS[name] = spec
    return spec


@dataclass
class Argument:
    """One entry of COMMAND DOCS' `arguments` tree."""

    name: str
    type: str
    token: str = ""
    optional: bool = False
    multiple: bool = False
    arguments: list[Argument] = field(default_factory=list)


def parse_syntax(syntax: str) -> list[Argument]:
    """Read a command's argument syntax into COMMAND DOCS' argument tree.

    `key` (or a name starting with key) is a key; `name` a string and `name:type` another
    type (integer, double, pattern, unix-time); `TOKEN:name:type` a value after a token;
    `TOKEN` a pure token; `A|B` a choice of pure tokens; `[...]` optional; `(...)` a block;
    a trailing `+` repeats the item. Example: `key cursor:integer [MATCH:pattern:pattern]`.
    """
    tokens = _SYNTAX_TOKENS.findall(syntax)
    arguments, end = _parse_sequence(tokens, 0)
    if end != len(tokens):
        raise ValueError(f"unbalanced syntax: {syntax}")
    return arguments


_SYNTAX_TOKENS = re.compile(r"\[|\]\+?|\(|\)\+?|[^\s\[\]()]+")


def _parse_sequence(tokens: list[str], i: int) -> tuple[list[Argument], int]:
    items: list[Argument] = []
    while i < len(tokens) and tokens[i] not in ("]", ")", "]+", ")+"):
        word = tokens[i]
        if word in ("[", "("):
            inner, i = _parse_sequence(tokens, i + 1)
            close = tokens[i]
            if len(inner) == 1 and word == "[":
                item = inner[0]
            else:
                item = Argument(name="_".join(a.name for a in inner)[:40] or "block",
                                type="block", arguments=inner)
            item.optional = item.optional or word == "["
            item.multiple = item.multiple or close.endswith("+")
            items.append(item)
        else:
            items.append(_parse_word(word))
        i += 1
    return items, i


def _parse_word(word: str) -> Argument:
    multiple = word.endswith("+")
    word = word.rstrip("+")
    if "|" in word:
        choices = [_parse_word(choice) for choice in word.split("|")]
        return Argument(name="condition", type="oneof", arguments=choices, multiple=multiple)
    parts = word.split(":")
    if parts[0].isupper():
        if len(parts) == 1:
            return Argument(name=word.lower(), type="pure-token", token=word)
        return Argument(name=parts[1], type=parts[2] if len(parts) > 2 else "string",
                        token=parts[0], multiple=multiple)
    kind = parts[1] if len(parts) > 1 else ("key" if parts[0].startswith("key") else "string")
    return Argument(name=parts[0], type=kind, multiple=multiple)
