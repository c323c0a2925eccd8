"""nbgrader's region markers, and the one reader of them.

A solution notebook hides two kinds of text from students, each between a pair of marker
lines: ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` (the release replaces it with a stub)
and ``### BEGIN HIDDEN TESTS`` .. ``### END HIDDEN TESTS`` (the release drops it; grading
runs it). As in nbgrader, a marker counts wherever it stands in a line.

The release's leak check, the feedback's hiding of hidden tests and the judge all read
regions with :func:`lines`, so they agree on where a region starts and ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

Region = tuple[str, str]  # (begin marker, end marker)

SOLUTION: Region = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS: Region = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REGIONS: tuple[Region, ...] = (SOLUTION, HIDDEN_TESTS)
MARKERS: tuple[str, ...] = tuple(marker for region in REGIONS for marker in region)


class Line(NamedTuple):
    """One line of a cell: its text, the region it belongs to (None outside every region),
    and ``"begin"`` or ``"end"`` when the line is that region's marker (else None)."""

    text: str
    region: Region | None
    marker: str | None


def lines(source: str, regions: tuple[Region, ...] = REGIONS) -> Iterator[Line]:
    """The lines of ``source``, each with the region it lies in.

    Regions do not nest: inside one, only its own end marker counts.
    """
    inside: Region | None = None
    for text in source.split("\n"):
        if inside is None:
            begins = [region for region in regions if region[0] in text]
            if begins:
                inside = begins[0]
                yield Line(text, inside, "begin")
            else:
                yield Line(text, None, None)
        elif inside[1] in text:
            yield Line(text, inside, "end")
            inside = None
        else:
            yield Line(text, inside, None)


def holds(source: str, region: Region) -> bool:
    """Whether ``source`` opens ``region`` (a hidden-test cell, a solution cell)."""
    return region[0] in source


def without(source: str, region: Region, placeholder: str | None = None) -> str:
    """``source`` with each ``region`` removed, markers included; ``placeholder`` (indented
    like the begin marker) stands where each one was, when given."""
    kept = []
    for line in lines(source, (region,)):
        if line.marker == "begin" and placeholder is not None:
            kept.append(line.text[: len(line.text) - len(line.text.lstrip())] + placeholder)
        elif line.region is None:
            kept.append(line.text)
    return "\n".join(kept)
