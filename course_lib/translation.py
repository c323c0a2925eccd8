"""A translation task that ships with the course: dates as people write them -> ISO 8601 (lecture 10).

Real translation data is large and has to be downloaded; this task is generated
here, offline, from a seed, and is still a real translation problem: the
source comes in many formats, the output has its own order, and a word such as
*September* has to become two digits. Character by character::

    "Tuesday, September 8, 1998"  -> "1998-09-08"
    "8 Sep 1998"                  -> "1998-09-08"
    "the 8th of september, 1998"  -> "1998-09-08"
    "09/08/1998"                  -> "1998-09-08"      (month first, as in the US)

The year, the last thing the source says, is the first thing the target says, so
a trained attention map is *not* a diagonal: it jumps to the end of the source,
then back to the month and the day. The weekday is there to be ignored.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable

import torch

from course_lib.text import Vocab, check_vocab

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Each format writes a date as a person might; the comment shows 1998-09-08.
DATE_FORMATS: dict[str, Callable[[datetime.date], str]] = {
    "day month year": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 8 September 1998
    "month day, year": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",  # September 8, 1998
    "short": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # 8 Sep 1998
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",  # Tuesday, September 8, 1998
    "short weekday": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # Tue 8 Sep 1998
    "ordinal": lambda d: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1].lower()}, {d.year}",  # the 8th of september, 1998
    "us numeric": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",  # 09/08/1998
    "dotted": lambda d: f"{d.day}.{d.month}.{d.year}",  # 8.9.1998
    "upper": lambda d: f"{MONTHS[d.month - 1].upper()} {d.day} {d.year}",  # SEPTEMBER 8 1998
}


def iso_date(date: datetime.date) -> str:
    """The target side: ``YYYY-MM-DD``."""
    return date.isoformat()


def date_vocabulary() -> Vocab:
    """The character vocabulary of the task, laid out for ``Seq2Seq``: ``<pad>`` 0, ``<bos>`` 1,
    ``<eos>`` 2, ``<unk>`` 3, then every character any format can write, sorted. Fixed, so
    every split and every run share it."""
    chars = set("0123456789-")
    for fmt in DATE_FORMATS.values():
        for month in range(1, 13):
            for day in (1, 2, 3, 8, 11, 12, 13, 21, 22, 23, 28):  # every ordinal suffix, every weekday
                chars |= set(fmt(datetime.date(2000, month, day)))
    return Vocab(["".join(sorted(chars))], tokenizer="char", order="alphabetical",
                 bos=True, eos=True, pad_first=True)


def date_pairs(n: int, seed: int = 0, formats: list[str] | None = None) -> list[tuple[str, str]]:
    """``n`` distinct ``(written date, ISO date)`` pairs, dates uniform in 1950-2049, formats uniform.

    Args:
        n: number of pairs (distinct source strings).
        seed: the generator's seed; the same seed gives the same pairs.
        formats: names from :data:`DATE_FORMATS` to draw from; ``None`` uses all of them.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int of at least 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    names = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [f for f in names if f not in DATE_FORMATS]
    if not names or unknown:
        raise ValueError(f"formats must be a non-empty list of names from {list(DATE_FORMATS)}, got {formats!r}")
    span = (LAST_DAY - FIRST_DAY).days
    if n > len(names) * (span + 1):
        raise ValueError(f"n must be at most {len(names) * (span + 1)} for these formats, got {n}")
    rng = random.Random(seed)
    pairs, seen = [], set()
    while len(pairs) < n:
        date = FIRST_DAY + datetime.timedelta(days=rng.randint(0, span))
        source = DATE_FORMATS[rng.choice(names)](date)
        if source not in seen:
            seen.add(source)
            pairs.append((source, iso_date(date)))
    return pairs


def date_splits(
    n_train: int = 3000, n_val: int = 500, n_test: int = 500, seed: int = 0
) -> dict[str, list[tuple[str, str]]]:
    """Train / validation / test splits of :func:`date_pairs` with no source string in two splits."""
    sizes = {"n_train": n_train, "n_val": n_val, "n_test": n_test}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
    pairs = date_pairs(n_train + n_val + n_test, seed)
    return {"train": pairs[:n_train], "val": pairs[n_train:n_train + n_val], "test": pairs[n_train + n_val:]}


def ids_to_text(ids: torch.Tensor | list[int], vocab: Vocab) -> str:
    """The string a row of decoder output spells: characters up to the first ``<eos>``, the
    other special tokens (``<pad>``, ``<bos>``, ``<unk>``) dropped."""
    check_vocab("vocab", vocab, eos=True)
    chars = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if i == vocab.eos_index:
            break
        if not 0 <= i < len(vocab):
            raise ValueError(f"ids must be indices into vocab (0 .. {len(vocab) - 1}), got {i}")
        if i not in (vocab.pad_index, vocab.bos_index, vocab.unk_index):
            chars.append(vocab.index_to_token(i))
    return "".join(chars)


def days_apart(hypothesis: str, reference: str) -> int | None:
    """How many days the date ``hypothesis`` is from ``reference`` (both ISO), or ``None`` if it is not a date.

    A person's judgement of a wrong date, in one number: a day off is a near miss, a
    century off is not, however many characters the two share."""
    try:
        return abs((datetime.date.fromisoformat(hypothesis) - datetime.date.fromisoformat(reference)).days)
    except ValueError:
        return None
