"""A minimal BERT (uncased) WordPiece tokenizer from vocab.txt, used when `tokenizers` is absent.

It follows BertTokenizer's basic tokenization: drop control characters, normalise whitespace,
put spaces around CJK characters, lowercase and strip accents, split on punctuation; then greedy
longest-match-first WordPiece with "##" continuations and [UNK] for words longer than 100 chars
or with no match. Tested against the `tokenizers` package on the model's own tokenizer.json.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

MAX_WORD_CHARS = 100


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    ranges = (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
    )  # fmt: skip
    return any(lo <= cp <= hi for lo, hi in ranges)


def _clean(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            out.append(" ")
        elif cat.startswith("C"):
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    return "".join(out)


def basic_tokenize(text: str) -> list[str]:
    """Whitespace/punctuation split of lowercased, accent-stripped text."""
    text = unicodedata.normalize("NFD", _clean(text).lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words: list[str] = []
    for word in text.split():
        current = ""
        for ch in word:
            if _is_punct(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


class WordPiece:
    """BERT uncased WordPiece: `encode(text)` -> ids with [CLS] ... [SEP]."""

    def __init__(self, vocab: dict[str, int], max_length: int = 256) -> None:
        self.vocab = vocab
        self.max_length = max_length
        for tok in ("[CLS]", "[SEP]", "[UNK]"):
            if tok not in vocab:
                raise ValueError(f"vocabulary has no {tok} token: is this a BERT vocab.txt?")

    @classmethod
    def from_file(cls, path: str | Path, max_length: int = 256) -> WordPiece:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls({tok: i for i, tok in enumerate(lines)}, max_length)

    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > MAX_WORD_CHARS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [p for w in basic_tokenize(text) for p in self._word_pieces(w)]

    def encode(self, text: str) -> list[int]:
        """Token ids with [CLS]/[SEP], truncated to max_length (sentence-transformers' 256)."""
        pieces = self.tokenize(text)[: self.max_length - 2]
        return [self.vocab["[CLS]"], *(self.vocab[p] for p in pieces), self.vocab["[SEP]"]]
