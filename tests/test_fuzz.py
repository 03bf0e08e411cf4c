"""The fuzzer (`fuzz_arbiter.py`) at a size for every test run: a real arbiter takes
mutated byte streams and every command with hostile arguments, and after each input a
second client gets PONG and its table intact; no internal error, no traceback logged.

The full runs (a million inputs and more) are `python tests/fuzz_arbiter.py --inputs N`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_arbiter import fuzz

INPUTS = 15_000


@pytest.mark.parametrize("seed", [1, 2])
def test_no_input_crashes_freezes_or_corrupts_the_arbiter(tmp_path: Path, seed: int) -> None:
    report = fuzz(tmp_path, INPUTS, seed)
    assert report.inputs == INPUTS
    assert report.commands > INPUTS // 2 and report.streams > INPUTS // 5
