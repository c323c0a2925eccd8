"""Text to numbers: tokenisers, a vocabulary, and the bag-of-words design matrix.

Lecture 1 ("Modelling text") turns sentences into a design matrix with ``bag_of_words``;
lecture 7 ("Word-level many-to-one RNNs") builds a ``Vocab`` with ``<unk>`` and
``<pad>`` and turns each sentence into a padded sequence of indices. Both worked
examples of the slides come out of this file exactly::

    >>> texts = ["The sun is shining", "The weather is sweet",
    ...          "The sun is shining, the weather is sweet, and one and one is two"]
    >>> X, vocabulary = bag_of_words(texts)       # vocabulary: 'and'=0 ... 'weather'=8
    >>> vocab = Vocab(texts, order="alphabetical")  # '<unk>'=0, 'and'=1 ... '<pad>'=10
    >>> vocab.encode(texts[0])
    [7, 5, 2, 4]
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch

from course_lib.validation import check_list, check_str

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_TOKENIZERS = ("word", "char", None)
_ORDERS = ("frequency", "alphabetical", "first_seen")


def word_tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into words, dropping punctuation, as the lecture 1 slides do.

    A word is a run of letters or digits, with inner apostrophes kept
    ("don't" stays one word). "The sun is shining," -> ["the", "sun", "is", "shining"].
    """
    check_str("text", text)
    if not isinstance(lower, bool):
        raise TypeError(f"lower must be a bool, got {type(lower).__name__}")
    words = _WORD.findall(text)
    return [w.lower() for w in words] if lower else words


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into characters: the tokens of ``Vocab(tokenizer="char")``.

    The character-level data sets build such a vocabulary: ``CharLMDataset`` (lecture 8) and
    ``NamesDataset`` (lecture 9).
    """
    return list(check_str("text", text))


def bag_of_words(
    texts: Sequence[str], vocabulary: dict[str, int] | None = None
) -> tuple[torch.Tensor, dict[str, int]]:
    """Count words per sentence: the design matrix of lecture 1.

    ``X[i, j]`` is how often word ``j`` occurs in sentence ``i``; without a given
    ``vocabulary`` the words are numbered alphabetically from 0. Words missing
    from a given ``vocabulary`` are ignored. Word order is lost, which is the
    point the lecture makes before introducing RNNs.

    Returns ``(X, vocabulary)`` with ``X`` of shape ``(N, V)`` and dtype int64.
    """
    texts = check_list("texts", texts, "strings")
    tokenised = [word_tokenize(check_str(f"texts[{i}]", t)) for i, t in enumerate(texts)]
    if vocabulary is None:
        vocabulary = {w: j for j, w in enumerate(sorted({w for ws in tokenised for w in ws}))}
    elif not isinstance(vocabulary, dict):
        raise TypeError(f"vocabulary must be a dict mapping str to int, got {type(vocabulary).__name__}")
    elif sorted(vocabulary.values()) != list(range(len(vocabulary))):
        raise ValueError("vocabulary must map its words to the indices 0 .. len(vocabulary) - 1")
    X = torch.zeros(len(texts), len(vocabulary), dtype=torch.int64)  # (N, V)
    for i, words in enumerate(tokenised):
        for w in words:
            if w in vocabulary:
                X[i, vocabulary[w]] += 1
    return X, vocabulary


class Vocab:
    """A token <-> index table with ``<unk>`` and ``<pad>``, as in lecture 7 (RNN step 1).

    The one vocabulary type of the course: word and character models, the conditional
    name generator and the encoder-decoder all number their tokens with it. Index
    layout, the slide's: ``<unk>`` is 0, then ``<bos>`` and ``<eos>`` if asked for, then
    the ordinary tokens, and ``<pad>`` last. With ``pad_first=True``, ``<pad>`` moves to 0
    and the rest shift by one: ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``, then the tokens,
    the layout of the seq2seq models (``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2). Any token not
    in the table encodes to ``<unk>``. Where a special token sits is a convention, so
    code asks for ``pad_index``, ``unk_index``, ``bos_index`` and ``eos_index`` instead
    of assuming a number.

    Args:
        texts: the training texts (strings), or token lists when ``tokenizer=None``.
        tokenizer: ``"word"`` (:func:`word_tokenize`), ``"char"`` (:func:`char_tokenize`)
            or ``None`` for texts that are already lists of tokens.
        lower: lower-case words (``tokenizer="word"`` only).
        min_freq: keep tokens seen at least this often.
        max_size: keep at most this many ordinary tokens (specials not counted),
            the most frequent first, ties broken alphabetically.
        order: how the kept tokens are numbered: ``"frequency"`` (most frequent
            first, ties alphabetical), ``"alphabetical"`` (the slide's) or ``"first_seen"``.
        bos, eos: add ``<bos>`` / ``<eos>`` (sequence generators and seq2seq need them:
            ``<bos>`` is the decoder's first input, ``<eos>`` ends an output).
        pad_first: put ``<pad>`` at index 0 instead of last.
    """

    unk_token = "<unk>"
    pad_token = "<pad>"
    bos_token = "<bos>"
    eos_token = "<eos>"

    def __init__(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]],
        tokenizer: str | None = "word",
        lower: bool = True,
        min_freq: int = 1,
        max_size: int | None = None,
        order: str = "frequency",
        bos: bool = False,
        eos: bool = False,
        pad_first: bool = False,
    ) -> None:
        if tokenizer not in _TOKENIZERS:
            raise ValueError(f"tokenizer must be one of 'word', 'char' or None, got {tokenizer!r}")
        if not isinstance(lower, bool):
            raise TypeError(f"lower must be a bool, got {type(lower).__name__}")
        if isinstance(min_freq, bool) or not isinstance(min_freq, int):
            raise TypeError(f"min_freq must be an int, got {type(min_freq).__name__}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be at least 1, got {min_freq}")
        if max_size is not None:
            if isinstance(max_size, bool) or not isinstance(max_size, int):
                raise TypeError(f"max_size must be an int or None, got {type(max_size).__name__}")
            if max_size < 0:
                raise ValueError(f"max_size must be non-negative, got {max_size}")
        if order not in _ORDERS:
            raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
        for name, flag in (("bos", bos), ("eos", eos), ("pad_first", pad_first)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self.tokenizer = tokenizer
        self.lower = lower

        texts = check_list("texts", texts, "strings")
        counts: Counter[str] = Counter()
        for i, text in enumerate(texts):
            counts.update(self.tokenize(text, name=f"texts[{i}]"))
        specials = [self.bos_token] * bos + [self.eos_token] * eos
        reserved = {self.unk_token, self.pad_token, *specials}
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in reserved),
            key=lambda t: (-counts[t], t),
        )[:max_size]
        if order == "alphabetical":
            kept.sort()
        elif order == "first_seen":
            first = {t: i for i, t in enumerate(counts)}  # Counter keeps insertion order
            kept.sort(key=first.__getitem__)
        if pad_first:
            self._set_tokens([self.pad_token] + specials + [self.unk_token] + kept)
        else:
            self._set_tokens([self.unk_token] + specials + kept + [self.pad_token])

    def _set_tokens(self, tokens: list[str]) -> None:
        self._itos = list(tokens)
        self._stoi = {t: i for i, t in enumerate(self._itos)}

    def tokenize(self, text: str | Sequence[str], name: str = "text") -> list[str]:
        """Split one text with this vocabulary's tokenizer (token lists pass through)."""
        if self.tokenizer == "word":
            return word_tokenize(check_str(name, text), lower=self.lower)
        if self.tokenizer == "char":
            return char_tokenize(check_str(name, text))
        if isinstance(text, str) or not isinstance(text, Sequence):
            raise TypeError(f"{name} must be a list of str tokens when tokenizer=None, got {type(text).__name__}")
        for token in text:
            if not isinstance(token, str):
                raise TypeError(f"{name} must contain only str tokens, got {type(token).__name__}")
        return list(text)

    # --- the table -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, tokenizer={self.tokenizer!r}, pad_index={self.pad_index})"

    @property
    def tokens(self) -> list[str]:
        """All tokens, position = index."""
        return list(self._itos)

    @property
    def unk_index(self) -> int:
        return self._stoi[self.unk_token]

    @property
    def pad_index(self) -> int:
        return self._stoi[self.pad_token]

    @property
    def bos_index(self) -> int | None:
        return self._stoi.get(self.bos_token)

    @property
    def eos_index(self) -> int | None:
        return self._stoi.get(self.eos_token)

    def token_to_index(self, token: str) -> int:
        """Index of ``token``; unknown tokens give ``unk_index``."""
        check_str("token", token)
        return self._stoi.get(token, self.unk_index)

    def index_to_token(self, index: int) -> str:
        """Token at ``index``."""
        if isinstance(index, torch.Tensor) and index.dim() == 0 and not index.is_floating_point():
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(self):
            raise ValueError(f"index must be in [0, {len(self) - 1}], got {index}")
        return self._itos[index]

    # --- strings <-> indices ---------------------------------------------------

    def encode(self, text: str | Sequence[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token indices of one text (lecture 7, RNN step 2), optionally wrapped in ``<bos>``/``<eos>``."""
        for name, flag, index in (("add_bos", add_bos, self.bos_index), ("add_eos", add_eos, self.eos_index)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
            if flag and index is None:
                raise ValueError(f"{name}=True needs a vocabulary built with {name[4:]}=True")
        indices = [self.token_to_index(t) for t in self.tokenize(text)]
        return [self.bos_index] * add_bos + indices + [self.eos_index] * add_eos

    def encode_batch(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]],
        length: int | None = None,
        batch_first: bool = True,
        add_bos: bool = False,
        add_eos: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode several texts into one int64 tensor padded with ``pad_index``.

        Every row has ``length`` entries (default: the longest text); longer
        texts are cut to ``length``. Returns ``(indices, lengths)``: ``indices``
        of shape ``(B, L)`` (``(L, B)`` if not ``batch_first``) and the unpadded
        lengths, shape ``(B,)``, ready for :func:`course_lib.packing.pack_padded_sequence`.
        """
        texts = check_list("texts", texts, "strings")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int):
                raise TypeError(f"length must be an int or None, got {type(length).__name__}")
            if length < 1:
                raise ValueError(f"length must be at least 1, got {length}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be a bool, got {type(batch_first).__name__}")
        rows = [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]
        width = length if length is not None else max(len(r) for r in rows)
        out = torch.full((len(rows), width), self.pad_index, dtype=torch.int64)  # (B, L)
        lengths = torch.tensor([min(len(r), width) for r in rows], dtype=torch.int64)  # (B,)
        for i, row in enumerate(rows):
            out[i, : lengths[i]] = torch.tensor(row[:width], dtype=torch.int64)
        return (out if batch_first else out.T.contiguous()), lengths

    def decode(self, indices: Sequence[int] | torch.Tensor, skip_pad: bool = True) -> str:
        """Text of a sequence of indices; ``<pad>`` is dropped unless ``skip_pad=False``.

        Words are joined by spaces, characters (``tokenizer="char"``) by nothing.
        """
        if isinstance(indices, torch.Tensor):
            if indices.dim() != 1:
                raise ValueError(f"indices must be 1-D, got a tensor of shape {tuple(indices.shape)}")
            if indices.is_floating_point() or indices.dtype == torch.bool:
                raise TypeError(f"indices must hold integers, got dtype {indices.dtype}")
            indices = indices.tolist()
        elif isinstance(indices, (str, bytes)) or not isinstance(indices, Sequence):
            raise TypeError(f"indices must be a sequence of ints, got {type(indices).__name__}")
        tokens = [self.index_to_token(i) for i in indices]
        if skip_pad:
            tokens = [t for t in tokens if t != self.pad_token]
        return ("" if self.tokenizer == "char" else " ").join(tokens)

    def decode_batch(self, indices: torch.Tensor, batch_first: bool = True, skip_pad: bool = True) -> list[str]:
        """Texts of a padded ``(B, L)`` (or ``(L, B)``) index tensor."""
        if not isinstance(indices, torch.Tensor):
            raise TypeError(f"indices must be a torch.Tensor, got {type(indices).__name__}")
        if indices.dim() != 2:
            raise ValueError(f"indices must be 2-D (batch and time), got shape {tuple(indices.shape)}")
        rows = indices if batch_first else indices.T  # (B, L)
        return [self.decode(row, skip_pad=skip_pad) for row in rows]

    # --- persistence -----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to a JSON file."""
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
        state = {"tokens": self._itos, "tokenizer": self.tokenizer, "lower": self.lower}
        Path(path).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by :meth:`save`; indices are unchanged."""
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
        state = json.loads(Path(path).read_text(encoding="utf-8"))
        tokens = state.get("tokens") if isinstance(state, dict) else None
        if (
            not isinstance(tokens, list)
            or not all(isinstance(t, str) for t in tokens)
            or len(set(tokens)) != len(tokens)
            or cls.unk_token not in tokens
            or cls.pad_token not in tokens
        ):
            raise ValueError(f"path must name a JSON file written by Vocab.save, got {str(path)!r}")
        vocab = cls.__new__(cls)
        vocab.tokenizer = state.get("tokenizer", "word")
        vocab.lower = state.get("lower", True)
        vocab._set_tokens(tokens)
        return vocab


def check_vocab(name: str, value: object, bos: bool = False, eos: bool = False) -> Vocab:
    """Return ``value`` if it is a :class:`Vocab` that has ``<bos>`` and ``<eos>`` where asked.

    A decoder starts from ``<bos>`` and stops at ``<eos>``, so the models that generate
    sequences (seq2seq, the conditional name generator) ask for both.
    """
    if not isinstance(value, Vocab):
        raise TypeError(f"{name} must be a course_lib.text.Vocab, got {type(value).__name__}")
    for token, wanted, index in (("bos", bos, value.bos_index), ("eos", eos, value.eos_index)):
        if wanted and index is None:
            raise ValueError(f"{name} must have <{token}>: build it with Vocab(..., {token}=True)")
    return value
