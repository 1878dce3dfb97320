"""Device plumbing of the trainer: picking the device, TF32, bf16 autocast, GPU sync, and loading the trainer's
own state.pt across torch versions. On the CPU every helper here is a no-op or the plain call."""
from __future__ import annotations

import contextlib
from typing import Any

import torch


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: torch {torch.__version__} sees no CUDA device")
    return torch.device(name)


def enable_tf32() -> str:
    """TF32 for fp32 matmuls on CUDA. torch >= 2.9 has `matmul.fp32_precision` and warns about (and, mixed with it,
    can refuse) the older `allow_tf32` flag, so the new setting is used where it exists. Returns what was set."""
    m = torch.backends.cuda.matmul
    try:
        if hasattr(m, "fp32_precision"):
            m.fp32_precision = "tf32"
            return "matmul.fp32_precision=tf32"
        m.allow_tf32 = True
        return "matmul.allow_tf32=True"
    except Exception as exc:  # noqa: BLE001 - a precision knob must never stop a run
        return f"unchanged ({exc})"


def torch_load(path: str) -> Any:
    """Load our own state.pt (optimizer state, generator states, lists): torch >= 2.6 defaults to
    weights_only=True, which may refuse such objects, so ask for the full unpickler explicitly."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # a torch without the weights_only argument
        return torch.load(path, map_location="cpu")


def amp_context(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA when asked; a no-op context otherwise."""
    if bf16 and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
