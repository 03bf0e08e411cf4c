"""`python -m bench.aof --quick` completes, prints a figure for every workload and fsync
policy on both servers, and leaves none of its six servers behind. No timing is
asserted: the quick run's figures are for checking that everything runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from servers import require_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9][0-9,]*"
RATIO = r"[0-9]+\.[0-9]{2}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_quick_aof_benchmark_prints_every_row_and_stops_its_servers() -> None:
    for binary in ("redis-server", "redis-benchmark"):
        require_binary(binary)
    done = subprocess.run([sys.executable, "-m", "bench.aof", "--quick"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr + done.stdout
    output = done.stdout
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
        assert not _alive(pid), f"benchmark left process {pid} running"
