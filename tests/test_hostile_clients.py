"""Every hostile client of `bench.hostile` at once, as real processes, against one
arbiter: a well-behaved client is never refused or answered wrongly, and the arbiter's
memory stays bounded (by the output limit a never-reading client may fill, 256 MB, plus
what the other attackers hold). `python -m bench.hostile --seconds 60` reports figures.
"""

from __future__ import annotations

from pathlib import Path

from bench.hostile import attack

SECONDS = 8.0
MIB = 1024 * 1024


def test_hostile_clients_neither_starve_nor_bloat_the_arbiter(tmp_path: Path) -> None:
    outcome = attack(tmp_path, SECONDS)
    assert outcome.failures == []
    assert outcome.pings > 10
    assert outcome.peak_rss - outcome.baseline_rss < 400 * MIB
