"""Byte-level corpus for the demo model: the King James Bible (public domain) from Debian's `bible` program.

Token ids: 0..255 are bytes, 256 = BOS/EOS, 257 = [MASK] (vocab 258). Each book is one document; documents are
joined as BOS + text. The text is cached under /tmp (never committed); `prepare_kjv()` regenerates it.
Where there is no `bible` program (a GPU machine), `load_kjv_tokens(<file>)` reads a copied kjv.txt, plain or
xz-compressed (recognised by its magic bytes, so the name does not matter).
"""
from __future__ import annotations

import lzma
import os
import re
import subprocess
from typing import List, Optional, Tuple, Union

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


XZ_MAGIC = b"\xfd7zXZ\x00"


def corpus_path(source: Optional[str] = None) -> str:
    """Where the corpus text is: `source` may be a kjv.txt file (plain or .xz), a folder holding kjv.txt or
    kjv.txt.xz, or None for the default cache folder. A folder with neither is filled by `prepare_kjv()`
    (needs the `bible` program)."""
    source = source or DEFAULT_CACHE
    if os.path.isfile(source):
        return source
    plain, packed = os.path.join(source, "kjv.txt"), os.path.join(source, "kjv.txt.xz")
    if not (os.path.isfile(plain) and os.path.getsize(plain) > 1_000_000) and os.path.isfile(packed) \
            and os.path.getsize(packed) > 0:
        return packed
    return prepare_kjv(source)  # the complete plain dump, made once


def read_corpus_bytes(path: str) -> bytes:
    """The corpus file's text bytes; xz-compressed files (by magic bytes) are decompressed in memory."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw.startswith(XZ_MAGIC):
        raw = lzma.decompress(raw)
    return raw


def tokens_from_text(raw: bytes) -> np.ndarray:
    """Corpus text (books separated by a form feed line) -> BOS + book bytes for each book (int16)."""
    docs = raw.split(b"\f\n")
    parts = []
    for d in docs:
        if not d:
            continue
        parts.append(np.array([BOS], dtype=np.int16))
        parts.append(np.frombuffer(d, dtype=np.uint8).astype(np.int16))
    if not parts:
        raise ValueError("the corpus is empty")
    return np.concatenate(parts)


def load_kjv_tokens(source: Optional[str] = DEFAULT_CACHE) -> np.ndarray:
    """The whole corpus as one token stream: BOS + book text for each book (int16). `source`: see corpus_path."""
    return tokens_from_text(read_corpus_bytes(corpus_path(source)))


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
    """Training batches: BOS + a random window of (seq_len - 1) tokens of the training stream.

    The stream, the generator and the batch are all on `device`, so a GPU run makes its batches on the GPU
    (one randint + one gather per step, no host->device copy). On the CPU the draws are the same as before
    the device option existed."""

    def __init__(self, train: np.ndarray, seq_len: int, batch_size: int, seed: int = 0,
                 device: Union[str, torch.device] = "cpu"):
        self.device = torch.device(device)
        self.train = torch.from_numpy(train.astype(np.int64)).to(self.device)
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.g = torch.Generator(device=self.device).manual_seed(seed)
        self.offsets = torch.arange(seq_len - 1, device=self.device)[None]
        self.bos = torch.full((batch_size, 1), BOS, dtype=torch.int64, device=self.device)

    def next(self) -> torch.Tensor:
        body = self.seq_len - 1
        starts = torch.randint(0, len(self.train) - body, (self.batch_size,), generator=self.g, device=self.device)
        x = self.train[starts[:, None] + self.offsets]
        return torch.cat([self.bos, x], dim=1)

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
