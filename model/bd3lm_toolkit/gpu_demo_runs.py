"""The pieces of the `gpu_demo` driver that are plain data: the output file names, one trainer subprocess and
what became of it (`Run`), and tolerant readers of the trainers' logs (a kill may cut a line)."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

MODEL_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = "results.json"
TRAIN_LOG = "train.log"
LOGS = "logs.jsonl"


@dataclass
class Run:
    """One trainer subprocess and what became of it."""
    name: str
    block_size: int
    dir: str
    args: List[str]
    init_from: Optional[str] = None
    proc: Optional[subprocess.Popen] = None
    started: float = 0.0
    ended: float = 0.0
    rc: Optional[int] = None
    signalled: List[str] = field(default_factory=list)
    out_fh: Any = None

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "log.jsonl")

    @property
    def ckpt(self) -> str:
        return os.path.join(self.dir, "checkpoint")

    def has_checkpoint(self) -> bool:
        return os.path.isfile(os.path.join(self.ckpt, "model.safetensors")) and \
            os.path.isfile(os.path.join(self.ckpt, "config.json"))


def read_jsonl(path: str) -> List[Dict]:
    out = []
    if not os.path.isfile(path):
        return out
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut by a kill
    return out


def tail_text(path: str, lines: int = 25) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 16000))
        txt = fh.read().decode("utf-8", errors="replace")
    return "\n".join(txt.splitlines()[-lines:])
