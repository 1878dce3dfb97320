"""Model configuration in the layout of the released HF `config.json` (kuleshov-group/bd3lm-owt-*).

Keys that the released BD3LMConfig has keep their names; the toolkit adds a few optional keys of its own
(token ids, tokenizer kind, training record). Anything else is refused with the file and key named, except
the generic keys Hugging Face writes into every config (architectures, torch_dtype, ...), which are ignored.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional


class CheckpointError(ValueError):
    """A checkpoint folder, config or tensor file that does not match what the model needs."""


# Generic keys written by transformers.PretrainedConfig; accepted and ignored.
HF_GENERIC_KEYS = {
    "architectures", "auto_map", "model_type", "torch_dtype", "transformers_version", "_name_or_path",
    "name_or_path", "return_dict", "output_hidden_states", "output_attentions", "use_return_dict",
    "pad_token_id", "tie_word_embeddings", "is_encoder_decoder", "torchscript", "use_bfloat16",
    "problem_type", "id2label", "label2id", "_attn_implementation_autoset", "tokenizer_class",
}


@dataclass
class BD3LMConfig:
    # --- keys of the released BD3LMConfig (same names, released defaults for the OWT checkpoints) ---
    block_size: int = 16
    vocab_size: int = 50258
    model_length: int = 1024
    cross_attn: bool = True
    adaln: bool = True
    attn_backend: str = "sdpa"
    causal: bool = False
    hidden_dim: int = 768
    cond_dim: int = 128
    n_blocks: int = 12
    n_heads: int = 12
    dropout: float = 0.1
    time_conditioning: bool = False
    var_min: bool = True
    sampling_eps_min: float = 1e-3
    sampling_eps_max: float = 1.0
    # --- toolkit keys (optional in a config.json; defaults follow the released layout) ---
    bos_token_id: Optional[int] = None  # default vocab_size - 2 (50256 for GPT-2, 256 for bytes)
    eos_token_id: Optional[int] = None  # default = bos_token_id
    mask_token_id: Optional[int] = None  # default vocab_size - 1
    tokenizer_kind: Optional[str] = None  # "gpt2" | "bytes"; default from vocab_size
    rotary_base: float = 10000.0
    training: Optional[Dict[str, Any]] = None  # free-form record written by train.py

    # ------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.n_heads

    @property
    def mlp_hidden(self) -> int:
        return 4 * self.hidden_dim

    @property
    def mask_id(self) -> int:
        return self.mask_token_id if self.mask_token_id is not None else self.vocab_size - 1

    @property
    def bos_id(self) -> int:
        return self.bos_token_id if self.bos_token_id is not None else self.vocab_size - 2

    @property
    def eos_id(self) -> int:
        return self.eos_token_id if self.eos_token_id is not None else self.bos_id

    @property
    def tokenizer(self) -> str:
        if self.tokenizer_kind is not None:
            return self.tokenizer_kind
        if self.vocab_size == 50258:
            return "gpt2"
        if self.vocab_size == 258:
            return "bytes"
        raise CheckpointError(f"cannot tell the tokenizer of vocab_size {self.vocab_size}; set tokenizer_kind")

    def validate(self, source: str = "config") -> None:
        def bad(msg: str) -> None:
            raise CheckpointError(f"{source}: {msg}")

        for key in ("block_size", "vocab_size", "model_length", "hidden_dim", "cond_dim", "n_blocks", "n_heads"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(f"{key} must be a positive integer, got {v!r}")
        if self.hidden_dim % self.n_heads:
            bad(f"hidden_dim {self.hidden_dim} is not a multiple of n_heads {self.n_heads}")
        if self.head_dim % 2:
            bad(f"head dim {self.head_dim} must be even for rotary embeddings")
        if not self.adaln:
            bad("adaln=false is not supported (the released BD3-LM DiT uses adaLN)")
        if self.time_conditioning:
            bad("time_conditioning=true is not supported (the released models zero sigma; export folds it)")
        if self.causal:
            bad("causal=true is not supported (BD3-LM attention is block-causal)")
        if not self.cross_attn:
            bad("cross_attn=false is not supported (BD3-LM trains with the x_t (+) x_0 pass)")
        for key in ("mask_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, key) < self.vocab_size:
                bad(f"{key} {getattr(self, key)} is outside the vocabulary of {self.vocab_size}")
        if self.tokenizer not in ("gpt2", "bytes"):
            bad(f"tokenizer_kind must be 'gpt2' or 'bytes', got {self.tokenizer!r}")
        if self.model_length % self.block_size:
            bad(f"model_length {self.model_length} is not a multiple of block_size {self.block_size}")

    # ------------------------------------------------------------------
    def to_json_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "architectures": ["BD3LM"],
            "model_type": "bd3lm",
        }
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            d[f.name] = v
        d["torch_dtype"] = "float32"
        return d

    @classmethod
    def from_json_dict(cls, data: Dict[str, Any], source: str = "config.json") -> "BD3LMConfig":
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: Dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kwargs[key] = value
            elif key in HF_GENERIC_KEYS:
                if key == "model_type" and value != "bd3lm":
                    raise CheckpointError(f"{source}: model_type is {value!r}, expected 'bd3lm'")
                continue
            else:
                raise CheckpointError(f"{source}: unknown config key {key!r}")
        cfg = cls(**kwargs)
        cfg.validate(source)
        return cfg

    @classmethod
    def load(cls, path: str) -> "BD3LMConfig":
        try:
            with open(path, "r", encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no config.json in {os.path.dirname(path) or '.'}") from None
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json_dict(data, source=path)

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_json_dict(), fh, indent=2, sort_keys=True)
            fh.write("\n")

    def replace(self, **changes: Any) -> "BD3LMConfig":
        return dataclasses.replace(self, **changes)


def released_config(block_size: int = 16) -> BD3LMConfig:
    """The shape of kuleshov-group/bd3lm-owt-block_size{4,8,16}."""
    return BD3LMConfig(block_size=block_size)


def released_small_config(block_size: int = 16) -> BD3LMConfig:
    """The released layout (GPT-2 vocabulary 50258, cond_dim 128, the same parameter names and config keys)
    at 2 layers x d=64, 2 heads, context 64: rehearses the released-checkpoint path in seconds."""
    return released_config(block_size).replace(n_blocks=2, hidden_dim=64, n_heads=2, model_length=max(64, block_size))


def demo_config(block_size: int = 16, context: int = 256) -> BD3LMConfig:
    """The byte-level demo shape (4 layers x d=192, vocab 258)."""
    return BD3LMConfig(
        block_size=block_size, vocab_size=258, model_length=context, hidden_dim=192, cond_dim=128,
        n_blocks=4, n_heads=4, dropout=0.0, tokenizer_kind="bytes",
    )
