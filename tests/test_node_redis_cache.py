"""node-redis' client-side cache (`clientSideCache`, RESP3) against the arbiter.

The test installs node-redis itself (`npm install` in tests/node_cache_client, whose
node_modules is not kept in the repository) and runs a small script that reads a key
three times, has another client write it, then delete it; a missing `node` or `npm`, or a
failed install, fails the test.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from servers import ServerProcess, require_binary

CLIENT_DIR = Path(__file__).parent / "node_cache_client"


def test_node_redis_cache_is_invalidated_by_another_clients_write(
        arbiter: ServerProcess) -> None:
    npm, node = require_binary("npm"), require_binary("node")
    install = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=CLIENT_DIR,
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    run = subprocess.run([node, "cache_check.mjs", arbiter.socket_path], cwd=CLIENT_DIR,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result == {"reads": ["v1", "v1", "v1"], "served": 1, "invalidated": True,
                      "deleted": True}
