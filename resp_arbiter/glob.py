"""Redis' glob patterns (`*`, `?`, `[...]`, `[^...]`, `\\`), matched without backtracking.

Redis matches a pattern by recursion, each `*` trying every position for the rest of
the pattern. Here a pattern is split at its star runs into *segments*; every other
element (a literal byte, `?`, a class) needs exactly one byte of the name, so a segment
is a fixed-length sequence of byte sets. A name matches when the first segment matches
at its start, the last one at its end, and each middle one at its leftmost place after
the previous one, all within the name: the leftmost place never leaves less room than a
later one, so nothing is ever retried. A match costs at most O(name x pattern), spent
inside `bytes.find` or `re` (fixed-length expressions: nothing to backtrack over).

Parsing is linear in the pattern and lazy: a pattern needing more bytes than a name has
cannot match it, so a long pattern is read only as far as the names met need, and a
segment's classes are decoded only when a name long enough for the whole pattern comes.

The rules are redis-server 7.0's (`stringmatchlen`), quirks included:

- `[` opens a class that ends at the next `]` read as an item of its own, or at the end
  of the pattern; `^` right after `[` negates it; `\\x` inside a class is `x` (compared
  exactly, even case-insensitively); `x-y` is a range whenever three bytes are left, so
  `[a-]` ranges from `a` to `]`; reversed ranges are swapped. Range ends and the byte
  tested compare as C `char`, which is signed: bytes 0x80-0xff sort before 0x00. `[]`
  matches nothing, `[^]` any byte.
- `\\` escapes the next byte; a trailing `\\` is a literal backslash.
- An empty name is matched only by the empty pattern (KEYS/SCAN treat a lone `*` as
  "everything" before matching: see `commands._args.compile_glob`).
- A pattern in which more than 1000 star runs are followed by something else matches
  nothing (Redis' guard against abusive patterns stops its recursion there).
- Case-insensitive matching (CONFIG GET, COMMAND LIST) folds ASCII letters only, as C's
  `tolower`; a range's ends are folded after being ordered, and so is the byte tested.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable

Matcher = Callable[[bytes], bool]

MAX_NESTED_STARS = 1000  # Redis gives up (no match) past this many star recursions
EAGER_PARSE = 4096  # patterns up to this long are parsed at once, longer ones on demand

_SPECIAL_BYTES = (b"*", b"[", b"\\")
_STARS = re.compile(rb"\*+")
# A class body, item by item as Redis reads them: an escaped byte; a range; a run of bytes
# none of which starts a range (backing off one byte when a '-' follows it); any other
# byte but ']'. Every expression below succeeds once it starts (a class ends at its ']'
# or at the end of the pattern), so the engine never backtracks across items, and each
# byte is looked at a bounded number of times. Where Python has possessive repeats
# (3.11+) the item loop is one, which skips the bookkeeping for a backtracking that
# never happens (three to six times faster on long classes); it matches the same.
_ONCE = b"+" if sys.version_info >= (3, 11) else b""
_CLASS_BODY = rb"((?:\\.|[^\]\\]-.|[^\]\\-]+(?!-)|[^\]])*" + _ONCE + rb")"
_CLASS_REST = re.compile(_CLASS_BODY + rb"\]?", re.DOTALL)
# A segment's pieces, to decode it: literal bytes and '?', a class (negation, body), an
# escaped byte, a trailing backslash.
_PIECE = re.compile(rb"([^\[\\]+)|\[(\^?)" + _CLASS_BODY + rb"\]?|\\(.)|(\\)", re.DOTALL)
_QUESTIONS = re.compile(rb"(\?+)")
# In a class body, the items that are not single bytes: ranges and escaped bytes.
_CLASS_WIDE = re.compile(rb"\\.|[^\]\\]-.", re.DOTALL)
_ALL_BYTES = bytes(range(256))

_FULL = (1 << 256) - 1
_UPPER = ((1 << 26) - 1) << ord("A")
_LOWER = ((1 << 26) - 1) << ord("a")


def compile_pattern(pattern: bytes, nocase: bool = False) -> Matcher:
    """A function telling whether a name matches `pattern`, as Redis' stringmatchlen.

    Built once per command, then called per name: plain patterns and the usual shapes
    (`prefix*`, `*suffix`, `*infix*`) become one bytes operation."""
    if nocase and b"[" not in pattern:
        # Outside classes, case folding is the same on both sides: fold once.
        folded = compile_pattern(pattern.lower())
        return lambda name: folded(name.lower())
    if not _has_special(pattern):
        return pattern.__eq__
    parsed = _Parsed(pattern, nocase)
    # A pattern never needs more bytes of name than it has, so this reads it all.
    if len(pattern) <= EAGER_PARSE and parsed.parse(len(pattern)):
        return parsed.match  # type: ignore[return-value]
    return parsed


def _has_special(text: bytes) -> bool:
    return b"*" in text or b"?" in text or b"[" in text or b"\\" in text


def _never(name: bytes) -> bool:
    return False


class _Parsed:
    """A pattern parsed as far as the names met so far need."""

    def __init__(self, pattern: bytes, nocase: bool) -> None:
        self._pattern = pattern
        self._nocase = nocase
        self._pos = 0
        self._segments: list[_Segment] = []
        self._start = 0  # the current segment's first byte in the pattern
        self._length = 0  # the bytes of name it needs so far
        self._upcoming = [-1, -1, -1]  # the next '*', '[', '\\' at or after _pos
        self.min_length = 0
        self.match: Matcher | None = None

    def __call__(self, name: bytes) -> bool:
        if self.match is None and not self.parse(len(name)):
            return False
        return self.match(name)  # type: ignore[misc]

    def parse(self, limit: int) -> bool:
        """Read on until the pattern ends (True, `match` is set) or it needs more than
        `limit` bytes of name (False)."""
        pattern, pos, size = self._pattern, self._pos, len(self._pattern)
        while pos < size:
            if self.min_length > limit:
                self._pos = pos
                return False
            byte = pattern[pos]
            if byte == 42:  # '*'
                end = _STARS.match(pattern, pos).end()  # type: ignore[union-attr]
                self._close_segment(pos)
                self._start = pos = end
                if len(self._segments) > MAX_NESTED_STARS and end < size:
                    self.match = _never  # a star run past Redis' limit, then more
                    return True
                continue
            if byte == 91:  # '[': a class, one byte of name
                end, grown = _class_end(pattern, pos), 1
            elif byte == 92:  # '\': an escaped byte, or a trailing backslash
                end, grown = min(pos + 2, size), 1
            else:  # literal bytes and '?', up to the next special byte
                end = self._next_special(pos)
                grown = end - pos
            self._length += grown
            self.min_length += grown
            pos = end
        self._pos = pos
        self._close_segment(pos)
        self.match = _combine(self._segments, self.min_length)
        return True

    def _next_special(self, pos: int) -> int:
        """Where the next '*', '[' or '\\' is (or the end): each is searched for again
        only once passed, so finding them all costs one pass over the pattern."""
        upcoming = self._upcoming
        for index, found in enumerate(upcoming):
            if found < pos:
                found = self._pattern.find(_SPECIAL_BYTES[index], pos)
                upcoming[index] = found if found >= 0 else len(self._pattern)
        return min(upcoming)

    def _close_segment(self, end: int) -> None:
        self._segments.append(_Segment(self._pattern[self._start:end], self._length,
                                       self._nocase))
        self._length = 0


class _Segment:
    """A fixed-length part of the pattern between star runs.

    `literal` is its bytes when it has no `?`, class or escape: the matchers then use
    bytes methods. `at(name, pos)` (truthy when the segment matches `name` at `pos`, the
    caller having checked the room) and `find` use a fixed-length expression compiled
    when a name first needs it; `at` is then that expression's own `match`."""

    __slots__ = ("length", "literal", "at", "_text", "_nocase", "_regex")

    def __init__(self, text: bytes, length: int, nocase: bool) -> None:
        self.length = length
        self._text = text
        self._nocase = nocase
        self._regex: re.Pattern[bytes] | None = None
        self.literal = None if nocase or _has_special(text) else text
        self.at: Callable[[bytes, int], object] = self._compile_then_match

    def regex(self) -> re.Pattern[bytes]:
        if self._regex is None:
            self._regex = re.compile(_segment_source(self._text, self._nocase), re.DOTALL)
            self.at = self._regex.match
        return self._regex

    def _compile_then_match(self, name: bytes, pos: int) -> object:
        return self.regex().match(name, pos)

    def find(self, name: bytes, start: int, end: int) -> int:
        """The leftmost place in name[start:end] where the whole segment matches, or -1."""
        if self.literal is not None:
            return name.find(self.literal, start, end)
        found = self.regex().search(name, start, end)
        return -1 if found is None else found.start()


def _combine(segments: list[_Segment], min_length: int) -> Matcher:
    """The matcher for a parsed pattern, specialised for the usual shapes."""
    min_length = max(min_length, 1)  # an empty name is matched by the empty pattern only
    first = segments[0]
    if len(segments) == 1:
        return lambda name: len(name) == min_length and bool(first.at(name, 0))
    last = segments[-1]
    middle = segments[1:-1]
    head, tail, tail_length = first.literal, last.literal, last.length
    if not middle:  # one star run
        if head is not None and tail is not None:
            if not tail:
                return lambda name: len(name) >= min_length and name.startswith(head)
            if not head:
                return lambda name: len(name) >= min_length and name.endswith(tail)
            return lambda name: (len(name) >= min_length and name.startswith(head)
                                 and name.endswith(tail))
        if tail == b"":
            return lambda name: len(name) >= min_length and bool(first.at(name, 0))
        if head == b"":
            return lambda name: (len(name) >= min_length
                                 and bool(last.at(name, len(name) - tail_length)))
        return lambda name: (len(name) >= min_length and bool(first.at(name, 0))
                             and bool(last.at(name, len(name) - tail_length)))
    if len(middle) == 1 and head == tail == b"" and middle[0].literal is not None:
        infix = middle[0].literal
        return lambda name: name.find(infix) >= 0  # faster than `in` on bytes

    steps = [(segment.literal, segment) for segment in middle]

    def match(name: bytes) -> bool:
        size = len(name)
        if size < min_length:
            return False
        if not (name.startswith(head) if head is not None else first.at(name, 0)):
            return False
        end = size - tail_length
        if not (name.endswith(tail) if tail is not None else last.at(name, end)):
            return False
        pos = first.length
        for literal, segment in steps:  # each at its leftmost place
            found = name.find(literal, pos, end) if literal is not None \
                else segment.find(name, pos, end)
            if found < 0:
                return False
            pos = found + segment.length
        return True

    return match


def _class_end(pattern: bytes, pos: int) -> int:
    """Where the class opened at `pos` ends. Up to the byte before its first '-' or '\\'
    every byte is an item of its own, so byte searches find that place and the end when
    there is none; from there on, the item-by-item reading decides."""
    start = pos + 2 if pattern[pos + 1:pos + 2] == b"^" else pos + 1
    if pattern[start:start + 1] == b"]":
        return start + 1  # "[]" and "[^]"
    close = pattern.find(b"]", start)
    stop = close if close >= 0 else len(pattern)
    dash, backslash = pattern.find(b"-", start, stop), pattern.find(b"\\", start, stop)
    if dash < 0 and backslash < 0:
        return stop + 1 if close >= 0 else stop
    first = min(found for found in (dash, backslash) if found >= 0)
    return _CLASS_REST.match(pattern, max(first - 1, start)).end()  # type: ignore[union-attr]


def _segment_source(text: bytes, nocase: bool) -> bytes:
    """A fixed-length regular expression for a segment."""
    parts = []
    for piece in _PIECE.finditer(text):
        kind = piece.lastindex
        if kind == 1:
            parts += [b".{%d}" % len(run) if run[:1] == b"?" else _literal_source(run, nocase)
                      for run in _QUESTIONS.split(piece.group(1)) if run]
        elif kind == 3:
            parts.append(_mask_source(_class(piece.group(2) == b"^", piece.group(3), nocase)))
        else:
            parts.append(_literal_source(piece.group(kind), nocase))  # type: ignore[arg-type]
    return b"".join(parts)


def _literal_source(text: bytes, nocase: bool) -> bytes:
    if not nocase:
        return re.escape(text)
    return b"".join(_mask_source(_literal_mask(byte, True)) for byte in text)


def _class(negate: bool, body: bytes, nocase: bool) -> int:
    """A class as the 256-bit mask of the bytes it matches (short ones are cached: a
    pattern often repeats one class)."""
    if len(body) <= 64:
        return _cached_class(negate, body, nocase)
    return _class_mask(negate, body, nocase)


def _class_mask(negate: bool, body: bytes, nocase: bool) -> int:
    mask = 0
    wide = _CLASS_WIDE.findall(body) if b"-" in body or b"\\" in body else []
    for item in set(wide):
        if item[0] == 92:  # an escaped byte, compared exactly even case-insensitively
            mask |= 1 << item[1]
        else:
            mask |= _range_mask(item[0], item[2], nocase)
    singles = _CLASS_WIDE.sub(b"", body) if wide else body
    for byte in _ALL_BYTES.translate(None, _ALL_BYTES.translate(None, singles)):
        mask |= _literal_mask(byte, nocase)
    return mask ^ _FULL if negate else mask


_cached_class = functools.lru_cache(maxsize=4096)(_class_mask)


def _signed(byte: int) -> int:
    """A byte as C's (signed) char."""
    return byte - 256 if byte > 127 else byte


def _fold(value: int) -> int:
    """C's tolower in the C locale, on a signed char value."""
    return value + 32 if 65 <= value <= 90 else value


def _bytes_between(low: int, high: int) -> int:
    """The mask of the bytes from `low` to `high` (unsigned, inclusive)."""
    if low > high:
        return 0
    return ((1 << (high + 1)) - 1) ^ ((1 << low) - 1)


def _range_mask(start: int, end: int, nocase: bool) -> int:
    """The bytes matched by the class range start-end: ends ordered as signed chars,
    then folded when case-insensitive, and compared with the (folded) byte."""
    low, high = sorted((_signed(start), _signed(end)))
    if nocase:
        low, high = _fold(low), _fold(high)
    mask = (_bytes_between(max(low, -128) + 256, min(high, -1) + 256)
            | _bytes_between(max(low, 0), min(high, 127)))
    if nocase:
        # A byte matches when its folded value is in range: capitals take their
        # lower-case letter's place.
        mask = (mask & ~_UPPER) | ((mask & _LOWER) >> 32)
    return mask


def _literal_mask(byte: int, nocase: bool) -> int:
    if nocase and (65 <= byte <= 90 or 97 <= byte <= 122):
        return 1 << (byte | 32) | 1 << (byte & ~32)
    return 1 << byte


@functools.lru_cache(maxsize=4096)
def _mask_source(mask: int) -> bytes:
    """A regular-expression class for a mask (DOTALL is set)."""
    if mask == _FULL:
        return b"."
    if not mask:
        return b"(?!)"
    parts = []
    byte = 0
    while byte < 256:
        if mask >> byte & 1:
            last = byte
            while last < 255 and mask >> (last + 1) & 1:
                last += 1
            parts.append(b"\\x%02x" % byte if last == byte
                         else b"\\x%02x-\\x%02x" % (byte, last))
            byte = last + 1
        else:
            byte += 1
    return b"[" + b"".join(parts) + b"]"
