"""HF-layout checkpoint folders: `config.json` + `model.safetensors` (or `pytorch_model.bin`).

The safetensors reader/writer is self-contained (no `safetensors` package here): 8-byte little-endian header
length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw little-endian
tensor bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from .config import BD3LMConfig, CheckpointError, demo_config, released_config, released_small_config
from .dit import BD3LM, count_parameters, init_weights

CONFIG_FILE = "config.json"
OPTIONAL_BUFFERS = ("sampling_eps_min", "sampling_eps_max", "backbone.rotary_emb.inv_freq")
SAFETENSORS_FILE = "model.safetensors"
TORCH_FILE = "pytorch_model.bin"

_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}


# ----------------------------------------------------------------------------------------------------------
# safetensors
def save_safetensors(tensors: Dict[str, torch.Tensor], path: str, metadata: Optional[Dict[str, str]] = None) -> None:
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _ST_NAMES:
            raise CheckpointError(f"{path}: cannot store dtype {t.dtype} of {name}")
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)  # align the data section like the reference writer
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(hbytes)))
        fh.write(hbytes)
        for raw in blobs:
            fh.write(raw)
    os.replace(tmp, path)


def load_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: too short for a safetensors file ({size} bytes)")
        (hlen,) = struct.unpack("<Q", head)
        if hlen > min(size - 8, 100_000_000):
            raise CheckpointError(f"{path}: header length {hlen} does not fit in a file of {size} bytes")
        try:
            header = json.loads(fh.read(hlen).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: unreadable safetensors header ({exc})") from None
        data = fh.read()
    meta = header.pop("__metadata__", {}) or {}
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        try:
            dtype = _ST_DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            start, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: bad header entry for tensor {name!r}: {info!r}") from None
        if not 0 <= start <= end <= len(data):
            raise CheckpointError(f"{path}: tensor {name!r} offsets [{start}, {end}] outside the data ({len(data)} bytes)")
        numel = int(np.prod(shape)) if shape else 1
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - start != numel * itemsize:
            raise CheckpointError(f"{path}: tensor {name!r} has {end - start} bytes, shape {shape} needs {numel * itemsize}")
        buf = data[start:end]
        if dtype == torch.bfloat16:
            arr = np.frombuffer(buf, dtype="<i2").astype(np.int16)
            t = torch.from_numpy(arr.copy()).view(torch.bfloat16)
        elif dtype == torch.bool:
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.bool_).copy())
        else:
            np_dtype = torch.empty((), dtype=dtype).numpy().dtype.newbyteorder("<")
            t = torch.from_numpy(np.frombuffer(buf, dtype=np_dtype).astype(np_dtype.newbyteorder("="), copy=True))
        out[name] = t.reshape(shape)
    return out, meta


# ----------------------------------------------------------------------------------------------------------
# checkpoint folders
def find_weights(folder: str) -> str:
    if not os.path.isdir(folder):
        raise CheckpointError(f"{folder}: not a directory (expected a checkpoint folder with {CONFIG_FILE} and {SAFETENSORS_FILE})")
    for name in (SAFETENSORS_FILE, TORCH_FILE):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    raise CheckpointError(f"{folder}: no checkpoint found (expected {SAFETENSORS_FILE} or {TORCH_FILE} next to {CONFIG_FILE})")


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        sd, _ = load_safetensors(path)
        return sd
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - report any unpickling failure with the file name
        raise CheckpointError(f"{path}: cannot read the PyTorch checkpoint ({exc})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"{path}: expected a state dict, got {type(sd).__name__}")
    return sd


def load_checkpoint(folder: str, dtype: torch.dtype = torch.float32) -> BD3LM:
    """Load an HF-layout folder into a BD3LM in eval mode. Errors name the file and the mismatch."""
    weights = find_weights(folder)
    cfg = BD3LMConfig.load(os.path.join(folder, CONFIG_FILE))
    sd = dict(read_state_dict(weights))
    model = BD3LM(cfg)
    expected = model.state_dict()
    # Derived buffers may be absent from some exports: fill them from the config rather than refuse.
    for k in OPTIONAL_BUFFERS:
        if k in expected and k not in sd:
            sd[k] = expected[k].clone()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing:
        raise CheckpointError(
            f"{weights}: missing {len(missing)} tensor(s) for config {os.path.join(folder, CONFIG_FILE)}: "
            + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        )
    if unexpected:
        raise CheckpointError(
            f"{weights}: unexpected tensor(s) not in the BD3-LM layout: " + ", ".join(unexpected[:8])
            + (" ..." if len(unexpected) > 8 else "")
        )
    for k, v in expected.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{weights}: tensor {k} has shape {list(sd[k].shape)}, config.json implies {list(v.shape)}"
            )
    model.load_state_dict({k: t.to(torch.float32) for k, t in sd.items()}, strict=True)
    model.eval()
    if dtype != torch.float32:
        model.to(dtype)
    return model


def save_checkpoint(model: BD3LM, folder: str, fmt: str = "safetensors") -> None:
    os.makedirs(folder, exist_ok=True)
    model.config.save(os.path.join(folder, CONFIG_FILE))
    sd = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    if fmt == "safetensors":
        save_safetensors(sd, os.path.join(folder, SAFETENSORS_FILE), metadata={"format": "pt"})
    elif fmt == "bin":
        torch.save(sd, os.path.join(folder, TORCH_FILE))
    else:
        raise ValueError(f"unknown checkpoint format {fmt!r}")


def write_random_checkpoint(folder: str, config: BD3LMConfig, seed: int = 0, fmt: str = "safetensors",
                            output_std: Optional[float] = None) -> BD3LM:
    torch.manual_seed(seed)
    model = init_weights(BD3LM(config), seed=seed, output_std=output_std)
    save_checkpoint(model, folder, fmt=fmt)
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="bd3lm_toolkit.checkpoint",
        description="Write a randomly initialised checkpoint in the official HF layout (config.json + model.safetensors).",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random", help="write a random checkpoint")
    r.add_argument("--out", required=True)
    r.add_argument("--shape", choices=["released", "released-small", "demo", "custom"], default="released",
                   help="released: 12x768, vocab 50258, context 1024 (GPT-2 tokenizer); released-small: the released "
                   "layout and vocabulary at 2x64, 2 heads, context 64 (seconds to export); demo: 4x192 bytes, context 256")
    r.add_argument("--block-size", type=int, default=16)
    r.add_argument("--context", type=int, default=None)
    r.add_argument("--layers", type=int, default=None)
    r.add_argument("--hidden", type=int, default=None)
    r.add_argument("--heads", type=int, default=None)
    r.add_argument("--vocab", type=int, default=None)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--format", choices=["safetensors", "bin"], default="safetensors")
    i = sub.add_parser("info", help="load a checkpoint folder and print its config and parameter count")
    i.add_argument("folder")
    args = ap.parse_args(argv)
    if args.cmd == "random":
        shapes = {"released": released_config, "released-small": released_small_config}
        cfg = shapes.get(args.shape, demo_config)(args.block_size)
        changes = {}
        if args.context is not None:
            changes["model_length"] = args.context
        if args.layers is not None:
            changes["n_blocks"] = args.layers
        if args.hidden is not None:
            changes["hidden_dim"] = args.hidden
        if args.heads is not None:
            changes["n_heads"] = args.heads
        if args.vocab is not None:
            changes["vocab_size"] = args.vocab
        cfg = cfg.replace(**changes)
        cfg.validate("arguments")
        model = write_random_checkpoint(args.out, cfg, seed=args.seed, fmt=args.format)
        print(json.dumps({"out": args.out, "params": count_parameters(model), "config": cfg.to_json_dict()}))
    else:
        try:
            model = load_checkpoint(args.folder)
        except CheckpointError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"params": count_parameters(model), "config": model.config.to_json_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
