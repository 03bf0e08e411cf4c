"""The arbiter's logger and Redis' log levels (notice and verbose sit between Python's)."""

from __future__ import annotations

import logging

log = logging.getLogger("resp_arbiter")

NOTICE = 25  # Redis' default level, between INFO and WARNING
logging.addLevelName(NOTICE, "NOTICE")
VERBOSE = 15
logging.addLevelName(VERBOSE, "VERBOSE")
LOG_LEVELS = {"debug": logging.DEBUG, "verbose": VERBOSE, "notice": NOTICE,
              "warning": logging.WARNING}
