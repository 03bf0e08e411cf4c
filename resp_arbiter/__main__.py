"""`resp-arbiter` and `python -m resp_arbiter`."""

import sys

from .proctitle import hide_secrets


def run() -> int:
    """Hide a password given on the command line, then start the arbiter."""
    hide_secrets()  # first: importing the server takes a few hundred milliseconds
    from .cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
