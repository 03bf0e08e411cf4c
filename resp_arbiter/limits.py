"""The C integer limits Redis' parsers and replies are bounded by, in one place."""

from typing import Final

INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
UINT_MAX: Final = 2**32 - 1
LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1
ULONG_LIMIT: Final = 2**64  # one past the largest unsigned long
