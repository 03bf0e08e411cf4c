"""INFO's text, as Redis' genRedisInfoString: one builder per section, each reading the
state of the part that owns it (the server, its clients, the keyspace, memory, the
append-only file, the command statistics)."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import REDIS_VERSION, __version__
from .memory import resident_bytes
from .registry import COMMANDS
from .stats import CommandStats, safe_info_name

if TYPE_CHECKING:
    from .server import Server

_UNAME = os.uname()


def _server_section(server: Server) -> list[tuple[str, object]]:
    uptime = int(server.uptime)
    return [
        ("redis_version", REDIS_VERSION), ("resp_arbiter_version", __version__),
        ("redis_git_sha1", "00000000"), ("redis_git_dirty", 0),
        ("redis_mode", "standalone"),
        # (os.uname and sys.version say what `platform` would, without its import.)
        ("os", f"{_UNAME.sysname} {_UNAME.release} {_UNAME.machine}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("multiplexing_api", type(_loop()).__module__.split(".")[0]),
        ("python_version", sys.version.split()[0]), ("process_id", os.getpid()),
        ("run_id", server.run_id), ("tcp_port", server.config["port"]),
        ("server_time_usec", int(time.time() * 1_000_000)),
        ("uptime_in_seconds", uptime), ("uptime_in_days", uptime // 86400),
        ("hz", 10), ("configured_hz", 10),
        ("executable", sys.argv[0] if sys.argv else ""),
        ("config_file", server.config.config_file),
    ]


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _clients_section(server: Server) -> list[tuple[str, object]]:
    return [
        ("connected_clients", len(server.clients)), ("cluster_connections", 0),
        ("maxclients", server.config["maxclients"]),
        ("client_recent_max_input_buffer", 0), ("client_recent_max_output_buffer", 0),
        ("blocked_clients", len(server.postponed)),
        ("tracking_clients", len(server.tracking.clients)),
        ("clients_in_timeout_table", 0),
    ]


def _distinct(server: Server, kind: str) -> int:
    """Channels (or patterns) with at least one subscriber."""
    return len({name for client in server.clients.values()
                if client.subscriptions is not None
                for name in getattr(client.subscriptions, kind)})


def _human(size: int) -> str:
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"


def _memory_section(server: Server) -> list[tuple[str, object]]:
    """`used_memory` is the startup baseline plus the keyspace's running estimate (and
    removed values not yet freed); `used_memory_rss` is what the process really holds."""
    memory = server.memory
    databases = server.databases
    used = memory.used()
    rss = resident_bytes()
    return [
        ("used_memory", used), ("used_memory_human", _human(used)),
        ("used_memory_rss", rss), ("used_memory_rss_human", _human(rss)),
        ("used_memory_peak", memory.peak), ("used_memory_peak_human", _human(memory.peak)),
        ("used_memory_startup", memory.baseline), ("used_memory_dataset", databases.data_bytes),
        ("maxmemory", memory.maxmemory), ("maxmemory_human", _human(memory.maxmemory)),
        ("maxmemory_policy", memory.policy), ("mem_allocator", "pymalloc"),
        ("lazyfree_pending_objects", databases.lazy.pending_objects),
        ("lazyfreed_objects", databases.lazy.freed_objects),
    ]


def _persistence_section(server: Server) -> list[tuple[str, object]]:
    return server.aof.info()


def _stats_section(server: Server) -> list[tuple[str, object]]:
    stats = server.stats
    hits, misses = server.lookups
    return [
        ("total_connections_received", stats.connections_received),
        ("total_commands_processed", server.commands_processed()),
        ("instantaneous_ops_per_sec", stats.instantaneous_ops),
        ("total_net_input_bytes", stats.net_input_bytes),
        ("total_net_output_bytes", stats.net_output_bytes),
        ("rejected_connections", stats.rejected_connections),
        ("expired_subkeys", server.databases.expired_fields),
        ("expired_keys", server.databases.expired_keys),
        ("evicted_keys", server.databases.evicted_keys),
        ("keyspace_hits", hits), ("keyspace_misses", misses),
        ("pubsub_channels", _distinct(server, "channels")),
        ("pubsub_patterns", _distinct(server, "patterns")),
        ("tracking_total_keys", len(server.tracking.table)),
        ("tracking_total_items", server.tracking.items),
        ("tracking_total_prefixes", len(server.tracking.prefixes)),
        ("unexpected_error_replies", 0),
        ("total_error_replies", server.error_stats.total),
        ("client_output_buffer_limit_disconnections",
         stats.client_output_buffer_limit_disconnections),
    ]


def _replication_section(server: Server) -> list[tuple[str, object]]:
    return [("role", "master"), ("connected_slaves", 0)]


def _cpu_section(server: Server) -> list[tuple[str, object]]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return [("used_cpu_sys", f"{usage.ru_stime:.6f}"),
            ("used_cpu_user", f"{usage.ru_utime:.6f}")]


def _modules_section(server: Server) -> list[tuple[str, object]]:
    return []  # no modules


def _by_command_table(server: Server) -> list[tuple[str, CommandStats]]:
    """Each command's statistics, containers followed by their subcommands (Redis'
    order of walking its command table), for the commands that have any."""
    table = server.command_stats
    rows = []
    for spec in COMMANDS.values():
        for each in (spec, *spec.subcommands.values()):
            stats = table.get(each)
            if stats is not None:
                rows.append((safe_info_name(each.full_name), stats))
    return rows


def _commandstats_section(server: Server) -> list[tuple[str, object]]:
    rows = []
    for name, stats in _by_command_table(server):
        calls, usec = stats.calls, stats.usec
        if calls or stats.rejected or stats.failed:
            rows.append((f"cmdstat_{name}",
                         f"calls={calls},usec={usec},usec_per_call="
                         f"{usec / calls if calls else 0:.2f},"
                         f"rejected_calls={stats.rejected},failed_calls={stats.failed}"))
    return rows


def _errorstats_section(server: Server) -> list[tuple[str, object]]:
    by_code = server.error_stats.by_code
    return [(f"errorstat_{safe_info_name(code)}", f"count={by_code[code]}")
            for code in sorted(by_code, key=lambda code: code.encode(errors="replace"))]


def _latencystats_section(server: Server) -> list[tuple[str, object]]:
    """Percentiles of each command's durations, in microseconds. The histogram is log-
    linear with two significant digits (`resp_arbiter.stats`), as Redis' HDR one."""
    if server.config["latency-tracking"] != "yes":
        return []
    rows = []
    for name, stats in _by_command_table(server):
        if stats.calls:
            values = ",".join(f"p{_trim(p)}={usec:.3f}" for p, usec in stats.percentiles())
            rows.append((f"latency_percentiles_usec_{name}", values))
    return rows


def _trim(value: float) -> str:
    """A percentile as Redis labels it: %f without trailing zeros (50, 99.9)."""
    return f"{value:f}".rstrip("0").rstrip(".")


def _cluster_section(server: Server) -> list[tuple[str, object]]:
    return [("cluster_enabled", 0)]


def _keyspace_section(server: Server) -> list[tuple[str, object]]:
    """One line per non-empty database, from counters kept by every write: O(databases)
    whatever they hold."""
    return [(f"db{db.id}", f"keys={len(db)},expires={db.expires},avg_ttl=0,"
                           f"subexpiry={db.subexpiry}")
            for db in server.databases if len(db)]


_SECTIONS: dict[str, Callable[[Server], list[tuple[str, object]]]] = {
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


def info_text(server: Server, names: list[str]) -> bytes:
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
        lines += [f"{key}:{value}" for key, value in _SECTIONS[name](server)]
        blocks.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(blocks).encode("utf-8", "surrogateescape")
