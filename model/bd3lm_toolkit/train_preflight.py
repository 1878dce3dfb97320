"""The trainer's preflight on a GPU: pick the fastest attention/bf16 configuration that runs there and, for SDPA,
agrees with the explicit split-attention pass (falling back to explicit, then fp32, rather than fail)."""
from __future__ import annotations

import math
import time
from typing import Callable, Dict, Tuple

import torch

from .dit import BD3LM
from .objective import q_xt, training_loss
from .train_device import amp_context


def preflight(model: BD3LM, x0: torch.Tensor, block_size: int, eps_min: float, eps_max: float, mask_id: int,
              want_sdpa: bool, want_bf16: bool, log: Callable[[Dict], None]) -> Tuple[str, bool]:
    """Before training on a GPU: pick the fastest configuration that works there. Candidates in order
    (sdpa, bf16) > (explicit, bf16) > (explicit, fp32), restricted to what was asked. SDPA must first agree with
    the explicit split-attention pass on the same input, in fp32 (relative max difference < 1e-2) and, when bf16
    is wanted, under bf16 autocast too (< 5e-2; the GPU may pick another kernel for bf16); a wrong mask gives
    differences of order 1. Each candidate runs one forward + backward of the loss on the given batch and must
    give a finite loss. Uses its own generators (the training RNG streams are untouched), leaves no gradients."""
    bb = model.backbone
    dev = x0.device
    sdpa_ok = False
    if want_sdpa:
        try:
            g = torch.Generator(device=dev).manual_seed(0)
            xt = q_xt(x0, torch.full(x0.shape, 0.5, device=dev), mask_id, g)
            sdpa_ok = True
            for bf16, tol in ((False, 1e-2), (True, 5e-2)):
                if bf16 and not want_bf16:
                    continue
                with torch.no_grad(), amp_context(dev, bf16):
                    bb.attn_impl = "explicit"
                    a = bb.forward_train(xt, x0, block_size).float()
                    bb.attn_impl = "sdpa"
                    b = bb.forward_train(xt, x0, block_size).float()
                rel = float((a - b).abs().max() / a.abs().max().clamp_min(1e-6))
                ok = math.isfinite(rel) and rel < tol
                sdpa_ok = sdpa_ok and ok
                log({"event": "preflight", "check": "sdpa_vs_explicit", "bf16": bf16, "rel_max_diff": rel, "ok": ok})
        except Exception as exc:  # noqa: BLE001 - any failure means: do not use it
            sdpa_ok = False
            log({"event": "preflight", "check": "sdpa_vs_explicit", "ok": False, "error": repr(exc)[:500]})
    candidates = []
    for impl, bf16 in (("sdpa", want_bf16), ("explicit", want_bf16), ("explicit", False)):
        if impl == "sdpa" and not sdpa_ok:
            continue
        if (impl, bf16) not in candidates:
            candidates.append((impl, bf16))
    for impl, bf16 in candidates:
        bb.attn_impl = impl
        try:
            g = torch.Generator(device=dev).manual_seed(1)
            t0 = time.time()
            with amp_context(dev, bf16):
                loss = training_loss(model, x0, block_size, eps_min, eps_max, mask_id, g)
            loss.backward()
            val = float(loss)
            model.zero_grad(set_to_none=True)
            if not math.isfinite(val):
                raise FloatingPointError(f"loss {val}")
            log({"event": "preflight", "attn_impl": impl, "bf16": bf16, "loss": round(val, 4),
                 "seconds": round(time.time() - t0, 2), "ok": True})
            return impl, bf16
        except Exception as exc:  # noqa: BLE001 - try the next configuration
            model.zero_grad(set_to_none=True)
            log({"event": "preflight", "attn_impl": impl, "bf16": bf16, "ok": False, "error": repr(exc)[:500]})
    raise SystemExit("preflight: no configuration could run a training step on " + str(dev))
