"""The benchmarks keep working: `python -m bench.run --quick` completes, prints a number
in every summary row (throughput, memory, `redis-cli --pipe`, gunicorn's start), and
leaves none of the servers it started behind; a timed gunicorn start stops every
process it started; so does `python -m bench.aof --quick`, with a figure for every
workload and fsync policy on both servers (six servers).

No timing is asserted: figures depend on the machine; only their presence is checked.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from servers import alive, require_binary

from bench import gunicorn_startup

REPO_ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9][0-9,]*"
RATIO = r"[0-9]+\.[0-9]{2}"
EXPECTED_ROWS = (
    "redis-benchmark HSET  (-t hset, -c 50)",
    "redis-benchmark HSET  (-t hset, -c 50, -P 16)",
    "redis-benchmark HSET  (-t hset, -c 50, -P 32)",
    "redis-benchmark HGET  (hget myhash element:1, -c 50)",
    "redis-benchmark HGET  (hget myhash element:1, -c 50, -P 16)",
    "redis-benchmark HGET  (random fields, -c 50)",
    "redis-benchmark HGET  (random fields, -c 50, -P 32)",
    "redis-py HSET",
    "redis-py HGET",
    "redis-py HGETALL (100 fields)",
    "redis-py HSET x100 pipeline (per HSET)",
    "stash put: redis-py HSET vs gunicorn stash.put",
    "stash get: redis-py HGET vs gunicorn stash.get",
)
COST_ROWS = (
    "redis-cli --pipe, 2k HSETs (seconds)",
    "memory: fields in one hash (bytes each)",
    "memory: keys of one small field (bytes each)",
    "memory: small strings (bytes each)",
    "gunicorn start to 1st response (ms), 2 workers: without / with arbiter",
)
FIGURE = r"[0-9][0-9,]*\.[0-9]+"


def _gunicorn_has_stash() -> bool:
    return (importlib.util.find_spec("gunicorn") is not None
            and importlib.util.find_spec("gunicorn.dirty") is not None
            and importlib.util.find_spec("gunicorn.dirty.stash") is not None)


def _quick(module: str, timeout: float) -> str:
    """The output of `python -m <module> --quick`, which must succeed."""
    for binary in ("redis-server", "redis-benchmark"):
        require_binary(binary)
    done = subprocess.run([sys.executable, "-m", module, "--quick"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_quick_benchmark_prints_every_summary_row() -> None:
    output = _quick("bench.run", 90)
    summary = output[output.index("## Summary"):]
    for name in EXPECTED_ROWS:
        match = re.search(rf"^{re.escape(name)} +({NUMBER}) +({NUMBER}) +({RATIO}) +"
                          rf"({NUMBER}|-) +({RATIO}|-)$", summary, re.MULTILINE)
        assert match, f"summary row {name!r} missing or without numbers:\n{summary}"
        if name.startswith("stash") and _gunicorn_has_stash():
            assert match.group(4) != "-", f"no gunicorn stash figure in {name!r}"
    for name in COST_ROWS:
        match = re.search(rf"^{re.escape(name)} +{FIGURE} +{FIGURE} +{RATIO}$", summary,
                          re.MULTILINE)
        assert match, f"cost row {name!r} missing or without figures:\n{summary}"

    started = re.search(r"^redis-server pid \d+, arbiter pid .*$", output, re.MULTILINE)
    assert started, output
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", started.group())]
    assert len(pids) == (4 if _gunicorn_has_stash() else 2), started.group()
    for pid in pids:
        assert not alive(pid), f"benchmark left process {pid} running"


def test_quick_aof_benchmark_prints_every_row_and_stops_its_servers() -> None:
    output = _quick("bench.aof", 120)
    for workload in ("HSET -c 50", "HSET -c 50 -P 16", "HSET, one redis-py connection"):
        for policy in ("none", "everysec", "always"):
            row = (rf"^{re.escape(workload)} +{policy} +{NUMBER} +{NUMBER} +{RATIO} +"
                   rf"{RATIO} +{RATIO}( ok| BELOW TARGET)? +[0-9.]+$")
            assert re.search(row, output, re.MULTILINE), f"{workload} {policy}:\n{output}"
    assert re.search(r"^everysec keeps >= 80% .*: (yes|NO)$", output, re.MULTILINE)
    pids = [int(pid) for pid in re.findall(r"(?:redis|arbiter)-\w+ (\d+)",
                                           output.splitlines()[0])]
    assert len(pids) == 6, output.splitlines()[0]
    for pid in pids:
        assert not alive(pid), f"benchmark left process {pid} running"


def test_quick_stash_client_benchmark_prints_every_row() -> None:
    output = _quick("bench.stash_client", 240)
    assert re.search(rf"^redis-server +{RATIO} +{RATIO}$", output, re.MULTILINE), output
    assert re.search(rf"^arbiter +{RATIO} +({RATIO}|- \(.+\))$", output, re.MULTILINE), output
    for worker in ("gthread, 8 threads", "uvicorn, 100 tasks"):
        for server in ("redis-server", "redis-server, 1 ms away", "arbiter",
                       "arbiter, 1 ms away"):
            row = rf"^{re.escape(worker)} +{re.escape(server)} +{NUMBER} +{NUMBER} +{RATIO}$"
            assert re.search(row, output, re.MULTILINE), f"{worker} {server}:\n{output}"
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", output.splitlines()[0])]
    assert len(pids) == 2
    for pid in pids:
        assert not alive(pid), f"benchmark left process {pid} running"


def test_timed_gunicorn_start_answers_and_stops_every_process() -> None:
    # A short directory: the arbiter's socket path must fit in a Unix socket address.
    with tempfile.TemporaryDirectory(prefix="rab-") as name:
        for stash in (False, True):
            _check_timed_start(Path(name) / str(stash), stash)


def _check_timed_start(directory: Path, stash: bool) -> None:
    directory.mkdir()
    start = gunicorn_startup.timed_start(directory, stash)
    assert start.ms > 0
    # The master, its two workers and, with the stash, the arbiter.
    assert len(start.pids) == (4 if stash else 3), start.pids
    for pid in start.pids:
        assert not alive(pid), f"process {pid} left running"
    log = (directory / "gunicorn.log").read_text()
    assert ("Stash arbiter ready" in log) is stash, log
    # Sockets and the arbiter's private directory are gone with the processes.
    assert sorted(p.name for p in directory.iterdir()) == ["gunicorn.log"]
