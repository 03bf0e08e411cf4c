"""`resp-arbiter` and `python -m resp_arbiter`."""

import gc
import sys

from .proctitle import hide_secrets


def run() -> int:
    """Hide a password given on the command line, then start the arbiter."""
    hide_secrets()  # first: importing the server takes a few hundred milliseconds
    # Importing makes many objects and no garbage: collections during the imports would
    # only slow the start (by about a tenth).
    gc.disable()
    try:
        from .cli import main
    finally:
        gc.enable()
    return main()


if __name__ == "__main__":
    sys.exit(run())
