"""Server and introspection commands: COMMAND, INFO, CONFIG, DBSIZE, TIME, FLUSHDB,
FLUSHALL, MEMORY USAGE."""

from __future__ import annotations

import logging
import os
import platform
import resource
import sys
import time
from collections.abc import Callable

from .. import REDIS_VERSION, __version__, errors
from ..client import Client
from ..conffile import rewrite
from ..config import SETTINGS, ConfigError
from ..listeners import fit_open_files
from ..memory import resident_bytes
from ..registry import COMMANDS, Argument, Command, Family, KeySpec, parse_syntax
from ..server import NOTICE
from ..stats import CommandStats, safe_info_name
from ._args import compile_glob, int_arg, text
from .connection import help_reply

log = logging.getLogger("resp_arbiter")
SERVER = "server"
FAMILY = Family(SERVER)
command = FAMILY.command
container = FAMILY.container
ADMIN = "admin noscript loading stale"

# -- COMMAND --------------------------------------------------------------------------

def _command_info(c: Client, spec: Command) -> None:
    r = c.reply
    r.array_len(10)
    r.bulk(spec.full_name.encode())
    r.integer(spec.arity)
    _statuses(c, spec.flags)
    r.integer(spec.first_key)
    r.integer(spec.last_key)
    r.integer(spec.step)
    _statuses(c, ["@" + category for category in spec.categories])
    r.set_len(len(spec.tips))
    for tip in spec.tips:
        r.bulk(tip.encode())
    r.set_len(len(spec.key_specs))
    for key_spec in spec.key_specs:
        _key_spec(c, key_spec)
    if spec.subcommands:  # Redis: an array of subcommand rows, or an empty set
        r.array_len(len(spec.subcommands))
    else:
        r.set_len(0)
    for sub in spec.subcommands.values():
        _command_info(c, sub)


def _statuses(c: Client, values) -> None:
    c.reply.set_len(len(values))
    for value in values:
        c.reply.status(value.encode())


def _key_spec(c: Client, spec: KeySpec) -> None:
    r = c.reply
    r.map_len(3)
    r.bulk(b"flags")
    _statuses(c, spec.flags)
    r.bulk(b"begin_search")
    r.map_len(2)
    r.bulk(b"type")
    r.bulk(b"index")
    r.bulk(b"spec")
    r.map_len(1)
    r.bulk(b"index")
    r.integer(spec.index)
    r.bulk(b"find_keys")
    r.map_len(2)
    r.bulk(b"type")
    r.bulk(b"range")
    r.bulk(b"spec")
    r.map_len(3)
    for name, value in ((b"lastkey", spec.lastkey), (b"keystep", spec.keystep),
                        (b"limit", spec.limit)):
        r.bulk(name)
        r.integer(value)


def _command_docs(c: Client, spec: Command) -> None:
    r = c.reply
    fields = [(b"summary", spec.summary), (b"since", spec.since), (b"group", spec.group),
              (b"complexity", spec.complexity)]
    arguments = parse_syntax(spec.syntax) if spec.syntax else []
    r.map_len(len(fields) + (1 if arguments else 0) + (1 if spec.subcommands else 0))
    for name, value in fields:
        r.bulk(name)
        r.bulk(value.encode())
    if arguments:
        r.bulk(b"arguments")
        _arguments_docs(c, arguments)
    if spec.subcommands:
        r.bulk(b"subcommands")
        r.map_len(len(spec.subcommands))
        for sub in spec.subcommands.values():
            r.bulk(sub.full_name.encode())
            _command_docs(c, sub)


def _arguments_docs(c: Client, arguments: list[Argument]) -> None:
    """COMMAND DOCS' argument maps, which redis-cli turns into its typing hints."""
    r = c.reply
    r.array_len(len(arguments))
    for argument in arguments:
        flags = [flag for flag, on in (("optional", argument.optional),
                                       ("multiple", argument.multiple)) if on]
        entries: list[tuple[bytes, object]] = [(b"name", argument.name.encode()),
                                               (b"type", argument.type.encode())]
        if argument.type == "key":
            entries.append((b"key_spec_index", 0))
        if argument.token:
            entries.append((b"token", argument.token.encode()))
        r.map_len(len(entries) + bool(flags) + bool(argument.arguments))
        for name, value in entries:
            r.bulk(name)
            if isinstance(value, int):
                r.integer(value)
            else:
                r.bulk(value)
        if flags:
            r.bulk(b"flags")
            _statuses(c, flags)
        if argument.arguments:
            r.bulk(b"arguments")
            _arguments_docs(c, argument.arguments)


def _find(name: bytes) -> Command | None:
    """A command or `container|sub` subcommand by name, any case."""
    parent, _, sub = name.lower().partition(b"|")
    spec = COMMANDS.get(parent)
    if spec is not None and sub:
        return spec.subcommands.get(sub)
    return spec


@command("command", -1, "loading stale", categories="connection",
         since="2.8.13", tips="nondeterministic_output_order",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Returns detailed information about all commands.")
def command_all(c: Client, argv: list[bytes]) -> None:
    """COMMAND with no subcommand; the subcommands are declared below."""
    c.reply.array_len(len(COMMANDS))
    for spec in COMMANDS.values():
        _command_info(c, spec)


@command("count", 2, "loading stale", categories="connection",
         since="2.8.13", parent="command", summary="Returns a count of commands.")
def command_count(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(len(COMMANDS))


@command("info", -2, "loading stale",
         syntax="[command-name+]", categories="connection",
         since="2.8.13", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the number of commands to look up",
         summary="Returns information about one, multiple or all commands.")
def command_info(c: Client, argv: list[bytes]) -> None:
    specs = [_find(name) for name in argv[2:]] if len(argv) > 2 else list(COMMANDS.values())
    c.reply.array_len(len(specs))
    for spec in specs:
        if spec is None:
            c.reply.null()
        else:
            _command_info(c, spec)


@command("docs", -2, "loading stale", categories="connection",
         since="7.0.0", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the number of commands to look up",
         summary="Returns documentary information about one, multiple or all commands.")
def command_docs(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2:
        found = [spec for spec in map(_find, argv[2:]) if spec is not None]
    else:
        found = list(COMMANDS.values())
    c.reply.map_len(len(found))
    for spec in found:
        c.reply.bulk(spec.full_name.encode())
        _command_docs(c, spec)


@command("list", -2, "loading stale", categories="connection",
         since="7.0.0", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Returns a list of command names.")
def command_list(c: Client, argv: list[bytes]) -> None:
    names = [spec.full_name.encode() for top in COMMANDS.values()
             for spec in (top, *top.subcommands.values())]
    if len(argv) > 2:
        if len(argv) != 5 or argv[2].lower() != b"filterby":
            raise errors.CommandError(errors.SYNTAX)
        kind, value = argv[3].lower(), argv[4]
        if kind == b"pattern":
            match = compile_glob(value, nocase=True)
            names = [name for name in names if match(name)]
        elif kind == b"aclcat":
            category = value.lower().decode(errors="replace")
            names = [name for name in names if category in _find(name).categories]
        elif kind == b"module":
            names = []
        else:
            raise errors.CommandError(errors.SYNTAX)
    c.reply.bulks(names)


@command("help", 2, "loading stale", categories="connection",
         since="5.0.0", parent="command",
         summary="Returns helpful text about the different subcommands.")
def command_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST", "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about multiple commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about commands.",
        "HELP", "    Print this help.",
    ))


# -- INFO -----------------------------------------------------------------------------

def _server_section(c: Client) -> list[tuple[str, object]]:
    server = c.server
    uptime = int(server.uptime)
    return [
        ("redis_version", REDIS_VERSION), ("resp_arbiter_version", __version__),
        ("redis_git_sha1", "00000000"), ("redis_git_dirty", 0),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("multiplexing_api", type(_loop()).__module__.split(".")[0]),
        ("python_version", platform.python_version()), ("process_id", os.getpid()),
        ("run_id", server.run_id), ("tcp_port", server.config["port"]),
        ("server_time_usec", int(time.time() * 1_000_000)),
        ("uptime_in_seconds", uptime), ("uptime_in_days", uptime // 86400),
        ("hz", 10), ("configured_hz", 10),
        ("executable", sys.argv[0] if sys.argv else ""),
        ("config_file", server.config.config_file),
    ]


def _loop():
    import asyncio
    return asyncio.get_running_loop()


def _clients_section(c: Client) -> list[tuple[str, object]]:
    return [
        ("connected_clients", len(c.server.clients)), ("cluster_connections", 0),
        ("maxclients", c.server.config["maxclients"]),
        ("client_recent_max_input_buffer", 0), ("client_recent_max_output_buffer", 0),
        ("blocked_clients", len(c.server.postponed)), ("tracking_clients", 0),
        ("clients_in_timeout_table", 0),
    ]


def _human(size: int) -> str:
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"


def _memory_section(c: Client) -> list[tuple[str, object]]:
    """`used_memory` is the startup baseline plus the keyspace's running estimate (and
    removed values not yet freed); `used_memory_rss` is what the process really holds."""
    memory = c.server.memory
    keyspace = c.db
    used = memory.used()
    rss = resident_bytes()
    return [
        ("used_memory", used), ("used_memory_human", _human(used)),
        ("used_memory_rss", rss), ("used_memory_rss_human", _human(rss)),
        ("used_memory_peak", memory.peak), ("used_memory_peak_human", _human(memory.peak)),
        ("used_memory_startup", memory.baseline), ("used_memory_dataset", keyspace.data_bytes),
        ("maxmemory", memory.maxmemory), ("maxmemory_human", _human(memory.maxmemory)),
        ("maxmemory_policy", memory.policy), ("mem_allocator", "pymalloc"),
        ("lazyfree_pending_objects", keyspace.lazy.pending_objects),
        ("lazyfreed_objects", keyspace.lazy.freed_objects),
    ]


def _persistence_section(c: Client) -> list[tuple[str, object]]:
    return c.server.aof.info()


def _stats_section(c: Client) -> list[tuple[str, object]]:
    stats = c.server.stats
    hits, misses = c.server.lookups
    return [
        ("total_connections_received", stats.connections_received),
        ("total_commands_processed", c.server.commands_processed()),
        ("instantaneous_ops_per_sec", stats.instantaneous_ops),
        ("total_net_input_bytes", stats.net_input_bytes),
        ("total_net_output_bytes", stats.net_output_bytes),
        ("rejected_connections", stats.rejected_connections),
        ("expired_subkeys", c.db.expired_fields),
        ("expired_keys", c.db.expired_keys),
        ("evicted_keys", c.db.evicted_keys),
        ("keyspace_hits", hits), ("keyspace_misses", misses),
        ("pubsub_channels", 0), ("pubsub_patterns", 0),
        ("unexpected_error_replies", 0),
        ("total_error_replies", c.server.error_stats.total),
        ("client_output_buffer_limit_disconnections",
         stats.client_output_buffer_limit_disconnections),
    ]


def _replication_section(c: Client) -> list[tuple[str, object]]:
    return [("role", "master"), ("connected_slaves", 0)]


def _cpu_section(c: Client) -> list[tuple[str, object]]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return [("used_cpu_sys", f"{usage.ru_stime:.6f}"),
            ("used_cpu_user", f"{usage.ru_utime:.6f}")]


def _modules_section(c: Client) -> list[tuple[str, object]]:
    return []  # no modules


def _by_command_table(c: Client) -> list[tuple[str, CommandStats]]:
    """Each command's statistics, containers followed by their subcommands (Redis'
    order of walking its command table), for the commands that have any."""
    table = c.server.command_stats
    rows = []
    for spec in COMMANDS.values():
        for each in (spec, *spec.subcommands.values()):
            stats = table.get(each)
            if stats is not None:
                rows.append((safe_info_name(each.full_name), stats))
    return rows


def _commandstats_section(c: Client) -> list[tuple[str, object]]:
    rows = []
    for name, stats in _by_command_table(c):
        calls, usec = stats.calls, stats.usec
        if calls or stats.rejected or stats.failed:
            rows.append((f"cmdstat_{name}",
                         f"calls={calls},usec={usec},usec_per_call="
                         f"{usec / calls if calls else 0:.2f},"
                         f"rejected_calls={stats.rejected},failed_calls={stats.failed}"))
    return rows


def _errorstats_section(c: Client) -> list[tuple[str, object]]:
    by_code = c.server.error_stats.by_code
    return [(f"errorstat_{safe_info_name(code)}", f"count={by_code[code]}")
            for code in sorted(by_code, key=lambda code: code.encode(errors="replace"))]


def _latencystats_section(c: Client) -> list[tuple[str, object]]:
    """Percentiles of each command's durations, in microseconds. The histogram is log-
    linear with two significant digits (`resp_arbiter.stats`), as Redis' HDR one."""
    if c.server.config["latency-tracking"] != "yes":
        return []
    rows = []
    for name, stats in _by_command_table(c):
        if stats.calls:
            values = ",".join(f"p{_trim(p)}={usec:.3f}" for p, usec in stats.percentiles())
            rows.append((f"latency_percentiles_usec_{name}", values))
    return rows


def _trim(value: float) -> str:
    """A percentile as Redis labels it: %f without trailing zeros (50, 99.9)."""
    return f"{value:f}".rstrip("0").rstrip(".")


def _cluster_section(c: Client) -> list[tuple[str, object]]:
    return [("cluster_enabled", 0)]


def _keyspace_section(c: Client) -> list[tuple[str, object]]:
    """From counters kept by every write: O(1) whatever the keyspace holds."""
    keyspace = c.db
    count = len(keyspace)
    line = f"keys={count},expires={keyspace.expires},avg_ttl=0,subexpiry={keyspace.subexpiry}"
    return [("db0", line)] if count else []


_SECTIONS: dict[str, Callable[[Client], list[tuple[str, object]]]] = {
    "server": _server_section, "clients": _clients_section, "memory": _memory_section,
    "persistence": _persistence_section, "stats": _stats_section,
    "replication": _replication_section, "cpu": _cpu_section,
    "modules": _modules_section, "commandstats": _commandstats_section,
    "errorstats": _errorstats_section, "latencystats": _latencystats_section,
    "cluster": _cluster_section, "keyspace": _keyspace_section,
}
# What INFO and INFO default show: all but commandstats and latencystats. "all" shows
# every section; "everything" adds the modules' own sections (there are none).
_DEFAULT_SECTIONS = frozenset(_SECTIONS) - {"commandstats", "latencystats"}
_ALIASES = {"module_list": "modules"}

_TITLES = {"cpu": "CPU"}  # section titles Redis does not merely capitalize


def info_text(c: Client, names: list[str]) -> bytes:
    """INFO's text for the requested sections; every line ends in CRLF."""
    wanted = set() if names else set(_DEFAULT_SECTIONS)
    every = False
    for name in names:
        if name == "default":
            wanted |= _DEFAULT_SECTIONS
        elif name in ("all", "everything"):
            every = True
        else:
            wanted.add(_ALIASES.get(name, name))
    chosen = [name for name in _SECTIONS if every or name in wanted]
    blocks = []
    for name in chosen:
        lines = [f"# {_TITLES.get(name, name.capitalize())}"]
        lines += [f"{key}:{value}" for key, value in _SECTIONS[name](c)]
        blocks.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(blocks).encode("utf-8", "surrogateescape")


@command("info", -1, "loading stale",
         syntax="[section+]", categories="dangerous",
         since="1.0.0", tips="nondeterministic_output request_policy:all_shards "
         "response_policy:special", summary="Returns information and statistics about "
         "the server.")
def info(c: Client, argv: list[bytes]) -> None:
    c.reply.verbatim(info_text(c, [text(arg).lower() for arg in argv[1:]]))


# -- CONFIG ---------------------------------------------------------------------------

container("config", since="2.0.0",
          summary="A container for server configuration commands.")


@command("get", -3, ADMIN, since="2.0.0", parent="config",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Returns the effective values of configuration parameters.")
def config_get(c: Client, argv: list[bytes]) -> None:
    # Like Redis: a name without glob characters is looked up (any case) and answered
    # with the spelling asked for; a pattern answers canonical names. Each setting once.
    matched: dict[str, bytes] = {}
    for pattern in argv[2:]:
        if not any(char in pattern for char in b"[*?"):
            name = text(pattern).lower()
            if name in SETTINGS and name not in matched:
                matched[name] = pattern
            continue
        match = compile_glob(pattern, nocase=True)
        for name in SETTINGS:
            if name not in matched and match(name.encode()):
                matched[name] = name.encode()
    c.reply.pairs([(spelling, c.server.config.render(name))
                   for name, spelling in matched.items()])


@command("set", -4, ADMIN, since="2.0.0", parent="config",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Sets configuration parameters in-flight.")
def config_set(c: Client, argv: list[bytes]) -> None:
    if len(argv) % 2:
        raise errors.CommandError(errors.SYNTAX)
    config = c.server.config
    for i in range(2, len(argv) - 1, 2):  # the slow log never shows a password
        if argv[i].lower() == b"requirepass":
            c.redact(argv, i + 1)
    # As Redis: every name is checked first (the first problem, named as typed, wins),
    # then the values are parsed in order (a bad value names the canonical setting).
    names: list[str] = []
    for i in range(2, len(argv), 2):
        name = text(argv[i]).lower()
        setting = SETTINGS.get(name)
        if setting is None:
            raise errors.CommandError(errors.CONFIG_UNKNOWN_OPTION.format(text(argv[i])))
        if not setting.mutable:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_IMMUTABLE))
        if setting.protected:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_PROTECTED))
        if name in names:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_DUPLICATE))
        names.append(name)
    changes: dict[str, object] = {}
    for name, value in zip(names, argv[3::2], strict=True):
        try:
            changes[name] = SETTINGS[name].convert(text(value), config.values[name])
        except ConfigError as exc:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(name, exc)) from None
    if "maxclients" in changes:
        fitting = fit_open_files(changes["maxclients"])
        if fitting != changes["maxclients"]:
            log.warning("Failed applying new configuration. Possibly related to new "
                        "maxclients setting. Restoring previous settings.")
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                "maxclients", errors.CONFIG_MAXCLIENTS_OS.format(fitting)))
    previous = {name: config.values[name] for name in changes}
    config.values.update(changes)
    refused = c.server.aof.config_changed(changes)
    if refused is not None:
        config.values.update(previous)
        raise errors.CommandError(errors.CONFIG_SET_FAILED.format("appendonly", refused))
    c.server.apply_config()
    c.reply.ok()


@command("resetstat", 2, ADMIN, since="2.0.0", parent="config",
         summary="Resets the server's statistics.")
def config_resetstat(c: Client, argv: list[bytes]) -> None:
    c.server.reset_stats()
    c.reply.ok()


@command("rewrite", 2, ADMIN, since="2.8.0", parent="config",
         summary="Persists the effective configuration to file.")
def config_rewrite(c: Client, argv: list[bytes]) -> None:
    if not c.server.config.config_file:
        raise errors.CommandError(errors.CONFIG_NO_FILE)
    try:
        rewrite(c.server.config)
    except OSError as exc:
        log.warning("CONFIG REWRITE failed: %s", exc.strerror or exc)
        raise errors.CommandError(
            errors.CONFIG_REWRITE_FAILED.format(exc.strerror or exc)) from None
    log.log(NOTICE, "CONFIG REWRITE executed with success.")
    c.reply.ok()


@command("help", 2, "loading stale", since="5.0.0", parent="config",
         summary="Returns helpful text about the different subcommands.")
def config_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Prints this help.",
    ))


# -- the rest -------------------------------------------------------------------------

@command("dbsize", 1, "readonly fast", categories="keyspace",
         since="1.0.0", tips="request_policy:all_shards response_policy:agg_sum",
         summary="Returns the number of keys in the database.")
def dbsize(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(len(c.db))


@command("time", 1, "loading stale fast", since="2.6.0",
         tips="nondeterministic_output", summary="Returns the server time.")
def time_(c: Client, argv: list[bytes]) -> None:
    now = time.time_ns() // 1000
    c.reply.bulks((b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)))


def _flush(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise errors.CommandError(errors.SYNTAX)
    c.db.flush()
    c.reply.ok()


FLUSH_TIPS = "request_policy:all_shards response_policy:all_succeeded"
command("flushdb", -1, "write",
        syntax="[ASYNC|SYNC]", categories="keyspace dangerous",
        since="1.0.0", tips=FLUSH_TIPS, complexity="O(N) where N is the number of keys "
        "in the selected database", summary="Remove all keys from the current "
        "database.")(_flush)
command("flushall", -1, "write",
        syntax="[ASYNC|SYNC]", categories="keyspace dangerous",
        since="1.0.0", tips=FLUSH_TIPS, complexity="O(N) where N is the total number of "
        "keys in all databases", summary="Removes all keys from all databases.")(_flush)

container("memory", since="4.0.0",
          summary="A container for memory diagnostics commands.")


@command("usage", -3, "readonly",
         syntax="key [SAMPLES:count:integer]", key_specs=(KeySpec(("RO",), 2),),
         since="4.0.0", parent="memory",
         complexity="O(N) where N is the number of samples.",
         summary="Estimates the memory usage of a key.")
def memory_usage(c: Client, argv: list[bytes]) -> None:
    i = 3
    while i < len(argv):  # SAMPLES <count>, any number of times, as Redis parses it
        if argv[i].lower() != b"samples" or i + 1 >= len(argv):
            raise errors.CommandError(errors.SYNTAX)
        samples = int_arg(argv[i + 1])
        if samples < 0:
            raise errors.CommandError(errors.SYNTAX)
        i += 2
    # Redis samples SAMPLES fields and extrapolates; the arbiter keeps each table's
    # estimate up to date on every write, so the answer is exact (for the estimate) and
    # O(1) at any SAMPLES.
    keyspace = c.db
    table = keyspace.peek(argv[2])
    if table is None:
        c.reply.null()
        return
    c.reply.integer(keyspace.memory_usage(argv[2], table))


@command("help", 2, "loading stale", since="4.0.0", parent="memory",
         summary="Returns helpful text about the different subcommands.")
def memory_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value.",
        "HELP", "    Print this help.",
    ))
