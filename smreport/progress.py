"""A progress line on the terminal while a large site is written; silent anywhere else.

Written by hand rather than with tqdm or rich: one carriage-return line is
all a build needs, and the runtime stays small.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

# "More than a few hundred notes": smaller builds finish before a progress line helps.
MIN_NOTES = 200
# Pages besides one per note: the briefing, lists, team, feeds; only used for the estimate.
OTHER_PAGES = 12
REDRAW_SECONDS = 0.1


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def show_progress(pages: Iterable[T], notes: int, stream: TextIO | None = None,
                  label: str = "Writing the site") -> Iterator[T]:
    """Pass `pages` through, drawing "label: n of ~total pages (p%)" on a terminal.

    Nothing is drawn for fewer than MIN_NOTES notes or when `stream` (default:
    standard error) is not a terminal, so logs and pipes stay clean. The line
    is erased at the end, leaving the build's own summary as the last word.
    """
    out = stream if stream is not None else sys.stderr
    if notes < MIN_NOTES or not is_terminal(out):
        yield from pages
        return
    total = notes + OTHER_PAGES
    done = 0
    drawn = 0.0
    try:
        for page in pages:
            yield page
            done += 1
            now = time.monotonic()
            if now - drawn >= REDRAW_SECONDS:
                shown_total = max(total, done)
                out.write(f"\r{label}: {done} of {shown_total} pages "
                          f"({100 * done // shown_total}%)")
                out.flush()
                drawn = now
    finally:
        # Erase the line whether the build finished or failed half-way.
        out.write("\r\x1b[2K")
        out.flush()
