"""Byte-level corpus for the demo model: the King James Bible (public domain) from Debian's `bible` program.

Token ids: 0..255 are bytes, 256 = BOS/EOS, 257 = [MASK] (vocab 258). Each book is one document; documents are
joined as BOS + text. The text is cached under /tmp (never committed); `prepare_kjv()` regenerates it.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import List, Tuple

import numpy as np
import torch

BOS = 256
EOS = 256
MASK = 257
VOCAB = 258
DEFAULT_CACHE = os.environ.get("BD3LM_DATA_DIR", "/tmp/bd3lm-data")

_HEADING = re.compile(r"^(?P<book>\S.*?) (?P<chapter>\d+)$")
_VERSE = re.compile(r"^\s+(\d+) (?P<text>.*)$")


def parse_bible_output(raw: str) -> List[Tuple[str, str]]:
    """Parse `bible` output into [(book, text)], verse numbers and chapter headings stripped, one verse a line."""
    books: List[Tuple[str, List[str]]] = []
    prev_blank = True
    current: List[str] = []
    for line in raw.splitlines():
        if not line.strip():
            prev_blank = True
            continue
        m = _VERSE.match(line)
        h = _HEADING.match(line) if prev_blank and not line.startswith(" ") else None
        if m:
            current.append(m.group("text").strip())
        elif h:
            book = h.group("book")
            if not books or books[-1][0] != book:
                books.append((book, []))
            current = books[-1][1]
        else:  # continuation of a wrapped verse
            if current:
                current[-1] = current[-1] + " " + line.strip()
        prev_blank = False
    return [(b, "\n".join(v) + "\n") for b, v in books if v]


def prepare_kjv(cache_dir: str = DEFAULT_CACHE) -> str:
    """Dump the KJV once into cache_dir/kjv.txt (books separated by a form feed line) and return the path."""
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, "kjv.txt")
    if os.path.isfile(path) and os.path.getsize(path) > 1_000_000:
        return path
    try:
        raw = subprocess.run(["bible", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit("the `bible` program is missing: apt-get install bible-kjv") from None
    books = parse_bible_output(raw)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", errors="replace") as fh:
        for _, text in books:
            fh.write(text)
            fh.write("\f\n")
    os.replace(tmp, path)
    return path


def load_kjv_tokens(cache_dir: str = DEFAULT_CACHE) -> np.ndarray:
    """The whole corpus as one token stream: BOS + book text for each book (int16)."""
    path = prepare_kjv(cache_dir)
    with open(path, "rb") as fh:
        docs = fh.read().split(b"\f\n")
    parts = []
    for d in docs:
        if not d:
            continue
        parts.append(np.array([BOS], dtype=np.int16))
        parts.append(np.frombuffer(d, dtype=np.uint8).astype(np.int16))
    return np.concatenate(parts)


def split_stream(tokens: np.ndarray, val_fraction: float = 0.05) -> Tuple[np.ndarray, np.ndarray]:
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens[:cut], tokens[cut:]


def val_sequences(val: np.ndarray, seq_len: int) -> torch.Tensor:
    """Non-overlapping held-out sequences, each BOS + (seq_len - 1) tokens."""
    body = seq_len - 1
    n = len(val) // body
    arr = val[: n * body].reshape(n, body).astype(np.int64)
    out = np.concatenate([np.full((n, 1), BOS, dtype=np.int64), arr], axis=1)
    return torch.from_numpy(out)


class RandomWindows:
    """Training batches: BOS + a random window of (seq_len - 1) tokens of the training stream."""

    def __init__(self, train: np.ndarray, seq_len: int, batch_size: int, seed: int = 0):
        self.train = torch.from_numpy(train.astype(np.int64))
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.g = torch.Generator().manual_seed(seed)

    def next(self) -> torch.Tensor:
        body = self.seq_len - 1
        starts = torch.randint(0, len(self.train) - body, (self.batch_size,), generator=self.g)
        idx = starts[:, None] + torch.arange(body)[None]
        x = self.train[idx]
        return torch.cat([torch.full((self.batch_size, 1), BOS, dtype=torch.int64), x], dim=1)

    def state_dict(self):
        return {"g": self.g.get_state()}

    def load_state_dict(self, s):
        self.g.set_state(s["g"])


def decode_bytes(ids) -> str:
    """Token ids -> text (BOS/EOS shown as a line break marker, [MASK] as '_')."""
    out = bytearray()
    for i in ids:
        i = int(i)
        if i < 256:
            out.append(i)
        elif i == BOS:
            out.extend(b"\n<|bos|>\n")
        else:
            out.extend(b"_")
    return out.decode("utf-8", errors="replace")


def encode_bytes(text: str, bos: bool = True) -> List[int]:
    ids = list(text.encode("utf-8"))
    return ([BOS] if bos else []) + ids
