"""Offline datasets for the lectures and assignments, and a padding collate function.

Everything here is generated from a seed or read from the small files shipped in
``course_lib/datasets/``; nothing is downloaded. Each generator is fast enough
for a 2-core laptop.

- :func:`toy_sentences`: the slides' three sentences with their labels (lecture 7).
- :func:`order_sentiment`: sentiment where only word order decides the label (lecture 7).
- :func:`tagged_sentences`: part-of-speech-tagged sentences with ambiguous words (lecture 3).
- :func:`number_agreement`: subject-verb agreement across attractor nouns (lecture 7).
- :func:`char_corpus`, :class:`CharLMDataset`: public-domain text for character language models (lecture 8).
- :func:`names_by_origin`, :class:`NamesDataset`: surname -> origin, the character-level classifier (lecture 9).
- :class:`AddingTask`: the adding problem, a long-range memory task, RNN vs GRU vs LSTM (lecture 6).
- :class:`CopyTask`: the copy task, another long-range memory task (no lecture uses it).
- :func:`sine_series`, :class:`SineForecast`: a seasonal series for one-step forecasting (lecture 10).
- :func:`pad_collate`: a ``DataLoader`` ``collate_fn`` that pads and returns lengths.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from importlib import resources

import torch
from torch.utils.data import Dataset, TensorDataset

from .packing import pad_sequence
from .text import Vocab
from .validation import check_int, check_number

_DATASETS = resources.files("course_lib") / "datasets"


def _generator(seed: object) -> torch.Generator:
    return torch.Generator().manual_seed(check_int("seed", seed, 0))


# --- text classification --------------------------------------------------------


def toy_sentences() -> tuple[list[str], list[int]]:
    """The slides' three sentences and their class labels ``y = [0, 1, 0]``."""
    texts = [
        "The sun is shining",
        "The weather is sweet",
        "The sun is shining, the weather is sweet, and one and one is two",
    ]
    return texts, [0, 1, 0]


_THINGS = ["movie", "film", "book", "show", "play", "album", "novel", "song", "series", "game"]
_PEOPLE = ["my friend", "my sister", "my brother", "the critic", "our teacher",
           "my neighbour", "her father", "his mother", "the director", "my cousin"]
_VERBS = ["seen", "watched", "read", "heard", "liked", "reviewed", "finished"]
_GOOD = ["good", "great", "fun", "brilliant", "wonderful", "funny", "moving"]
_BAD = ["bad", "boring", "dull", "awful", "terrible", "slow", "weak"]


def order_sentiment(n: int = 1000, seed: int = 0) -> tuple[list[str], list[int]]:
    """Sentences whose sentiment only word order reveals, with labels (1 = positive).

    Every sentence has exactly one "not", either in the relative clause (which
    leaves the verdict alone) or before the adjective (which flips it)::

        the movie my friend has not seen is good    -> 1
        the movie my friend has seen is not good    -> 0

    Both have the same bag of words, so a bag-of-words model is at chance on
    the "not" and only a sequence model can use it (lecture 7).
    """
    check_int("n", n, 1)
    rng = random.Random(check_int("seed", seed, 0))
    texts, labels = [], []
    for _ in range(n):
        positive = rng.random() < 0.5
        negated_verdict = rng.random() < 0.5
        adjective = rng.choice(_GOOD if positive else _BAD)
        clause = f"has {'' if negated_verdict else 'not '}{rng.choice(_VERBS)}"
        verdict = f"is {'not ' if negated_verdict else ''}{adjective}"
        texts.append(f"the {rng.choice(_THINGS)} {rng.choice(_PEOPLE)} {clause} {verdict}")
        labels.append(int(positive != negated_verdict))
    return texts, labels


# --- subject-verb agreement ------------------------------------------------------

AGREEMENT_NOUNS = [("writer", "writers"), ("book", "books"), ("key", "keys"), ("cabinet", "cabinets"),
          ("author", "authors"), ("table", "tables"), ("dog", "dogs"), ("friend", "friends")]
_PREPOSITIONS = ["of", "near", "behind", "on"]
_ADJECTIVES = ["old", "new", "small", "red"]


def number_agreement(n: int = 2000, seed: int = 0) -> tuple[list[str], list[int], list[bool]]:
    """Sentence beginnings whose verb must agree with the subject, not with the nearest noun.

    Each text is a subject noun phrase, optionally followed by one or two prepositional
    phrases; the label is the number of the verb that comes next, 0 for singular (*is*) and
    1 for plural (*are*), decided by the *first* noun (syntactic recency)::

        the writer of the books        -> 0  (is), although the nearest noun is plural
        the keys near the old cabinet  -> 1  (are)

    The third list flags the texts with an *attractor*, a later noun whose number differs from
    the subject's (Linzen, Dupoux and Goldberg 2016), where the nearest noun (sequential
    recency) gives the wrong answer. A many-to-one classifier learns it in lecture 7.
    """
    check_int("n", n, 1)
    rng = random.Random(check_int("seed", seed, 0))
    texts, labels, attractors = [], [], []
    for _ in range(n):
        plural = rng.random() < 0.5
        words = ["the"] + ([rng.choice(_ADJECTIVES)] if rng.random() < 0.3 else []) + [rng.choice(AGREEMENT_NOUNS)[plural]]
        attractor = False
        for _ in range(rng.choice([0, 1, 1, 2])):
            other = rng.random() < 0.5
            attractor |= other != plural
            words += [rng.choice(_PREPOSITIONS), "the"] + ([rng.choice(_ADJECTIVES)] if rng.random() < 0.3 else [])
            words.append(rng.choice(AGREEMENT_NOUNS)[other])
        texts.append(" ".join(words))
        labels.append(int(plural))
        attractors.append(attractor)
    return texts, labels, attractors


# --- part-of-speech tagging ------------------------------------------------------

TAGS = ("DET", "NOUN", "PRON", "VERB", "MOD")
_TAG_WORDS = {
    "DET": ["the", "a", "this", "my"],
    "NOUN": ["dog", "cat", "fish", "boat", "watch", "can", "park", "ball"],
    "PRON": ["they", "we", "you", "i"],
    "VERB": ["see", "like", "fish", "watch", "sail", "kick", "paint"],
    "MOD": ["can", "will", "should"],
}
_OBJECT_PRONOUNS = ["them", "us", "it"]


def tagged_sentences(n: int = 800, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Short sentences with a part-of-speech tag per word, for a many-to-many tagger (lecture 3).

    A small grammar: a subject (a pronoun, or a determiner and a noun followed by a modal), an
    optional modal, a verb and an optional object::

        they fish                    -> PRON VERB
        my dog can watch the fish    -> DET NOUN MOD VERB DET NOUN

    "fish" and "watch" are nouns or verbs and "can" a noun or a modal, so a word alone does
    not fix its tag: the words before it do, which is what the tagger's hidden state carries.
    Returns ``(sentences, tags)``, two lists of ``n`` token lists of equal lengths; tags are
    from :data:`TAGS`.
    """
    check_int("n", n, 1)
    rng = random.Random(check_int("seed", seed, 0))
    sentences, tags = [], []
    for _ in range(n):
        words: list[tuple[str, str]] = []
        if rng.random() < 0.5:
            words.append((rng.choice(_TAG_WORDS["PRON"]), "PRON"))
            if rng.random() < 0.4:
                words.append((rng.choice(_TAG_WORDS["MOD"]), "MOD"))
        else:
            words += [(rng.choice(_TAG_WORDS["DET"]), "DET"), (rng.choice(_TAG_WORDS["NOUN"]), "NOUN"),
                      (rng.choice(_TAG_WORDS["MOD"]), "MOD")]
        words.append((rng.choice(_TAG_WORDS["VERB"]), "VERB"))
        if rng.random() < 0.7:
            if rng.random() < 0.75:
                words += [(rng.choice(_TAG_WORDS["DET"]), "DET"), (rng.choice(_TAG_WORDS["NOUN"]), "NOUN")]
            else:
                words.append((rng.choice(_OBJECT_PRONOUNS), "PRON"))
        sentences.append([w for w, _ in words])
        tags.append([t for _, t in words])
    return sentences, tags


class TextClassificationDataset(Dataset):
    """``(indices (L,), label ())`` pairs: texts encoded with ``vocab``, for :func:`pad_collate`."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], vocab: Vocab) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a course_lib.text.Vocab, got {type(vocab).__name__}")
        if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
            raise ValueError("texts must be a non-empty list of strings")
        if not isinstance(labels, Sequence) or len(labels) != len(texts):
            raise ValueError(f"labels must be a list with one label per text ({len(texts)})")
        self.sequences = [torch.tensor(vocab.encode(t), dtype=torch.int64) for t in texts]
        self.labels = torch.as_tensor(list(labels), dtype=torch.int64)  # (N,)
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sequences[index], self.labels[index]


# --- characters: a corpus and surnames ------------------------------------------


def char_corpus() -> str:
    """About 21 KB of public-domain English prose and verse, shipped with the package."""
    return (_DATASETS / "corpus.txt").read_text(encoding="utf-8")


class CharLMDataset(Dataset):
    """Next-character prediction: item ``i`` is ``(x (L,), y (L,))`` with ``y`` = ``x`` shifted by one.

    The text is cut into consecutive, non-overlapping chunks of ``seq_len``
    characters. ``vocab`` defaults to the text's own characters.
    """

    def __init__(self, text: str | None = None, seq_len: int = 64, vocab: Vocab | None = None) -> None:
        text = char_corpus() if text is None else text
        if not isinstance(text, str):
            raise TypeError(f"text must be a str or None, got {type(text).__name__}")
        check_int("seq_len", seq_len, 1)
        if len(text) < seq_len + 1:
            raise ValueError(f"text must be longer than seq_len={seq_len}, got {len(text)} characters")
        if vocab is None:
            vocab = Vocab([text], tokenizer="char")
        elif not isinstance(vocab, Vocab) or vocab.tokenizer != "char":
            raise TypeError("vocab must be a character-level course_lib.text.Vocab (tokenizer='char')")
        self.vocab = vocab
        self.seq_len = seq_len
        self.ids = torch.tensor(vocab.encode(text), dtype=torch.int64)  # (N,)

    def __len__(self) -> int:
        return (self.ids.numel() - 1) // self.seq_len

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} chunks")
        start = (index % len(self)) * self.seq_len
        chunk = self.ids[start : start + self.seq_len + 1]  # (L + 1,)
        return chunk[:-1], chunk[1:]


def names_by_origin() -> dict[str, list[str]]:
    """Surnames by origin (ten origins, 66-116 names each), read from the shipped files."""
    folder = _DATASETS / "names"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".txt"))
    return {
        f.name[:-4].capitalize(): [line.strip() for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        for f in files
    }


class NamesDataset(Dataset):
    """``(characters (L,), origin ())`` pairs for the character-level name classifier (lecture 9).

    ``origins`` lists the classes (label = position); ``vocab`` is character-level,
    built from all names unless given.
    """

    def __init__(self, vocab: Vocab | None = None) -> None:
        table = names_by_origin()
        self.origins = list(table)
        self.names = [name for origin in self.origins for name in table[origin]]
        labels = [k for k, origin in enumerate(self.origins) for _ in table[origin]]
        if vocab is None:
            vocab = Vocab(self.names, tokenizer="char")
        elif not isinstance(vocab, Vocab) or vocab.tokenizer != "char":
            raise TypeError("vocab must be a character-level course_lib.text.Vocab (tokenizer='char')")
        self.vocab = vocab
        self.sequences = [torch.tensor(vocab.encode(name), dtype=torch.int64) for name in self.names]
        self.labels = torch.tensor(labels, dtype=torch.int64)  # (N,)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sequences[index], self.labels[index]


# --- synthetic long-range tasks --------------------------------------------------


class AddingTask(TensorDataset):
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers.

    Item: ``x`` of shape ``(length, 2)`` (channel 0: numbers from U(0, 1); channel 1:
    a marker that is 1 at one step of the first half and one of the second half)
    and ``y = sum(x[:, 0] * x[:, 1])``. Always predicting 1 gives a mean squared
    error of about 1/6; beating it needs memory across ``length / 2`` steps.
    """

    def __init__(self, n: int = 1000, length: int = 50, seed: int = 0) -> None:
        check_int("n", n, 1)
        check_int("length", length, 2)
        g = _generator(seed)
        half = length // 2
        values = torch.rand(n, length, generator=g)  # (n, T)
        first = torch.randint(0, half, (n,), generator=g)  # (n,)
        second = torch.randint(half, length, (n,), generator=g)  # (n,)
        markers = torch.zeros(n, length)  # (n, T)
        rows = torch.arange(n)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        x = torch.stack([values, markers], dim=-1)  # (n, T, 2)
        y = (values * markers).sum(dim=1)  # (n,)
        super().__init__(x, y)


class CopyTask(TensorDataset):
    """The copy task (Arjovsky et al. 2016): repeat ``length`` symbols after ``delay`` blanks.

    Tokens: 0 = blank, ``1 .. num_symbols`` = symbols, ``num_symbols + 1`` = "go".
    Item ``(x, y)``, both int64 of shape ``(2 * length + delay,)``::

        x = s_1 .. s_L   0 .. 0 go   0 .. 0        (delay - 1 blanks, then go, then L blanks)
        y = 0 .. 0       0 .. 0  0   s_1 .. s_L

    A model that knows when to answer but forgot the symbols guesses uniformly: cross-entropy
    ``length * log(num_symbols) / (2 * length + delay)``.
    """

    def __init__(self, n: int = 1000, length: int = 10, delay: int = 20, num_symbols: int = 8, seed: int = 0) -> None:
        check_int("n", n, 1)
        check_int("length", length, 1)
        check_int("delay", delay, 1)
        check_int("num_symbols", num_symbols, 1)
        g = _generator(seed)
        symbols = torch.randint(1, num_symbols + 1, (n, length), generator=g)  # (n, L)
        blanks = torch.zeros(n, delay - 1, dtype=torch.int64)  # (n, delay - 1)
        go = torch.full((n, 1), num_symbols + 1, dtype=torch.int64)  # (n, 1)
        tail = torch.zeros(n, length, dtype=torch.int64)  # (n, L)
        x = torch.cat([symbols, blanks, go, tail], dim=1)  # (n, 2L + delay)
        y = torch.cat([torch.zeros(n, length + delay, dtype=torch.int64), symbols], dim=1)  # (n, 2L + delay)
        super().__init__(x, y)
        self.num_tokens = num_symbols + 2


# --- a seasonal time series ------------------------------------------------------


def sine_series(
    n_steps: int = 500, period: float = 50.0, season: float = 200.0, noise: float = 0.05, seed: int = 0
) -> torch.Tensor:
    """``sin(2 pi t / period) + 0.5 sin(2 pi t / season) + noise * N(0, 1)``, shape ``(n_steps,)``."""
    check_int("n_steps", n_steps, 1)
    check_number("period", period, 1e-12)
    check_number("season", season, 1e-12)
    check_number("noise", noise, 0.0)
    g = _generator(seed)
    t = torch.arange(n_steps, dtype=torch.float32)  # (N,)
    clean = torch.sin(2 * math.pi * t / period) + 0.5 * torch.sin(2 * math.pi * t / season)  # (N,)
    return clean + noise * torch.randn(n_steps, generator=g)  # (N,)


class SineForecast(TensorDataset):
    """One-step forecasting windows of :func:`sine_series`: ``(x (window, 1), y (1,))``, ``y`` the next value."""

    def __init__(self, window: int = 20, n_steps: int = 500, noise: float = 0.05, seed: int = 0) -> None:
        check_int("window", window, 1)
        check_int("n_steps", n_steps, window + 1)
        series = sine_series(n_steps, noise=noise, seed=seed)  # (N,)
        windows = series.unfold(0, window + 1, 1)  # (N - window, window + 1)
        super().__init__(windows[:, :window].unsqueeze(-1), windows[:, window:])  # (M, W, 1), (M, 1)
        self.series = series


# --- batching --------------------------------------------------------------------


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, object]],
    padding_value: float | None = None,
    batch_first: bool = False,
    sort: bool = False,
    target_padding_value: int = -100,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn ``[(sequence (L_i, *), target), ...]`` into ``(padded, lengths, targets)``.

    ``padded`` is ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``), ``lengths`` the
    int64 CPU lengths ``(B,)``. Scalar targets are stacked to ``(B,)``; sequence
    targets are padded like the inputs with ``target_padding_value`` (-100 is what
    ``cross_entropy`` ignores). ``sort=True`` orders the batch by decreasing length,
    as :func:`course_lib.packing.pack_padded_sequence` with ``enforce_sorted=True``
    wants. Use with ``functools.partial(pad_collate, padding_value=vocab.pad_index)``.

    ``padding_value`` has no default on purpose: the padding index is a convention of the
    vocabulary, not of this function. In a :class:`~course_lib.text.Vocab` index 0 is
    ``<unk>`` and ``<pad>`` comes last, unless it was built with ``pad_first=True`` (as the
    seq2seq vocabularies are). A silent default of 0 would pad with ``<unk>`` in a default ``Vocab``.
    """
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence) or len(batch) == 0:
        raise ValueError("batch must be a non-empty list of (sequence, target) pairs")
    for i, item in enumerate(batch):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], torch.Tensor)):
            raise TypeError(f"batch[{i}] must be a (tensor, target) pair, got {type(item).__name__}")
    for name, flag in (("batch_first", batch_first), ("sort", sort)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    if padding_value is None:
        raise ValueError(
            "padding_value is required: pass the vocabulary's padding index, e.g. "
            "functools.partial(pad_collate, padding_value=vocab.pad_index) (index 0 is <unk> in a course_lib Vocab)"
        )
    if isinstance(padding_value, bool) or not isinstance(padding_value, (int, float)):
        raise TypeError(f"padding_value must be a number, got {type(padding_value).__name__}")
    items = list(batch)
    if sort:
        items.sort(key=lambda item: item[0].size(0), reverse=True)  # stable: ties keep their order
    sequences = [item[0] for item in items]
    targets = [torch.as_tensor(item[1]) for item in items]
    padded = pad_sequence(sequences, batch_first=batch_first, padding_value=padding_value)
    lengths = torch.tensor([s.size(0) for s in sequences], dtype=torch.int64)  # (B,)
    if all(t.dim() == 0 for t in targets):
        stacked = torch.stack(targets)  # (B,)
    else:
        stacked = pad_sequence(targets, batch_first=batch_first, padding_value=target_padding_value)
    return padded, lengths, stacked
