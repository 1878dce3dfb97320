"""Train a BD3-LM (or its L'=1 AR special case) on the byte-level KJV corpus.

  npm run model:train -- --out /tmp/runs/ar --block-size 1 --minutes 25
  npm run model:train -- --out /tmp/runs/b16 --block-size 16 --init-from /tmp/runs/ar/checkpoint --minutes 30
  python3 -m bd3lm_toolkit.train --out /tmp/runs/ar --block-size 1 --minutes 2 --device cuda --bf16 \
      --batch-size 256 --data kjv.txt.xz            (GPU; PYTHONPATH=model)

Writes <out>/checkpoint/ (official HF layout, EMA weights), <out>/state.pt (raw weights, optimizer, EMA, data
RNG: `--resume` continues from it; `--no-state` skips it) and <out>/log.jsonl. See model/README.md.

Devices: `--device auto|cpu|cuda` (auto: cuda when available). On the CPU nothing differs from before the
option existed (same draws, same arithmetic). On CUDA: the token stream, the batch sampling, the EMA, the
optimizer and the evaluation all live on the GPU; TF32 matmuls; `--bf16` runs the forward pass and the loss
under bf16 autocast (parameters, gradients, EMA and AdamW state stay fp32); `--attention auto` uses fused
scaled-dot-product attention (torch >= 2.0) after a preflight on the device checks it against the explicit
split-attention form (falling back to explicit, then to fp32, if a configuration fails or disagrees).
The loss is read back to the host only every `--log-every` steps, so the GPU is never drained per step.

Time: `--minutes` is the training budget (evaluations and saves excluded; the LR schedule follows it).
`--stop-at <unix time>` and SIGTERM end training early but still run the final evaluation and save, so a
driver can hold a hard wall-clock budget without losing the run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from .checkpoint import CONFIG_FILE, load_checkpoint, save_checkpoint
from .config import BD3LMConfig, demo_config
from .data import MASK, RandomWindows, decode_bytes, load_kjv_tokens, split_stream, val_sequences
from .dit import BD3LM, HAS_SDPA, count_parameters, training_init
from .objective import evaluate, interval_grid, q_xt, search_interval, training_loss


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


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: p.detach().clone() for k, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up so early EMA is not dominated by the init
        named = list(model.named_parameters())
        if named and named[0][1].device.type == "cuda":
            # same arithmetic in two multi-tensor kernels instead of two kernels per parameter
            sh = [self.shadow[k] for k, _ in named]
            torch._foreach_mul_(sh, d)
            torch._foreach_add_(sh, [p.detach() for _, p in named], alpha=1 - d)
            return
        for k, p in named:
            self.shadow[k].mul_(d).add_(p.detach(), alpha=1 - d)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        for k, p in model.named_parameters():
            p.copy_(self.shadow[k])


def lr_at(progress: float, base: float, warmup_frac: float, min_frac: float) -> float:
    if progress < warmup_frac:
        return base * max(progress / warmup_frac, 0.01)
    p = min(1.0, (progress - warmup_frac) / max(1e-9, 1 - warmup_frac))
    return base * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def parse_interval(s: str, block_size: int):
    if block_size == 1:
        return (1.0, 1.0)  # L' = 1: full masking, the loss is the exact AR NLL
    if s == "full":
        return (1e-3, 1.0)
    if s == "paper":
        return (0.45, 0.95) if block_size <= 4 else (0.3, 0.8)
    lo, hi = (float(x) for x in s.split(","))
    if not 0 < lo < hi <= 1:
        raise SystemExit(f"--noise-interval {s}: need 0 < beta < omega <= 1")
    return (lo, hi)


def ema_model(model: BD3LM, ema: EMA) -> BD3LM:
    """A copy of the model with the EMA weights, on the model's device, same attention implementation."""
    dev = next(model.parameters()).device
    m = BD3LM(model.config).to(dev)
    m.load_state_dict(model.state_dict())
    ema.copy_to(m)
    m.backbone.attn_impl = model.backbone.attn_impl
    return m.eval()


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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup-frac", type=float, default=0.03)
    ap.add_argument("--warmup-steps", type=int, default=0,
                    help="also ramp the LR linearly over the first N steps (0 = off): a time-based warm-up alone "
                         "is a step or two when the budget is short and the first steps are slow")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock training budget (the LR schedule follows it)")
    ap.add_argument("--stop-at", type=float, default=None,
                    help="unix time at which training stops whatever the budget (then final eval + save)")
    ap.add_argument("--noise-interval", default="paper",
                    help="beta,omega | full (U[1e-3,1]) | paper (L'<=4: 0.45,0.95; else 0.3,0.8); ignored for L'=1")
    ap.add_argument("--search-interval", action="store_true", help="re-pick the interval by grid search at each eval")
    ap.add_argument("--final-search", action="store_true",
                    help="after the final eval, grid-search the interval on --eval-seqs held-out sequences (L' > 1) "
                         "and record it in the final_eval record (the training interval is not changed)")
    ap.add_argument("--final-search-step", type=float, default=0.05)
    ap.add_argument("--eval-every-min", type=float, default=5.0)
    ap.add_argument("--eval-seqs", type=int, default=64, help="held-out sequences used by the periodic eval")
    ap.add_argument("--eval-batch-size", type=int, default=16)
    ap.add_argument("--final-eval-seqs", type=int, default=0, help="0 = all held-out sequences")
    ap.add_argument("--final-eval-repeats", type=int, default=2)
    ap.add_argument("--init-from", default=None, help="checkpoint folder to start from (e.g. the L'=1 AR run)")
    ap.add_argument("--mask-row", choices=["keep", "mean"], default="keep",
                    help="with --init-from: 'mean' resets the [MASK] embedding to the mean of the other rows")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-state", action="store_true", help="do not write state.pt (no --resume possible)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda[:i] (auto = cuda when available)")
    ap.add_argument("--bf16", action="store_true", help="CUDA: bf16 autocast for the forward pass and the loss")
    ap.add_argument("--preflight", action="store_true",
                    help="run the attention/bf16 preflight on any device (always done on cuda)")
    ap.add_argument("--attention", choices=["auto", "explicit", "sdpa"], default="auto",
                    help="forward_train attention: auto = sdpa on CUDA when torch has it (checked by the preflight), "
                         "explicit on the CPU")
    ap.add_argument("--data-dir", "--data", dest="data_dir", default=None,
                    help="corpus: a kjv.txt file (plain or xz) or a folder holding kjv.txt (default: the cache folder)")
    ap.add_argument("--log-every", type=int, default=20)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.max_steps is None and args.minutes is None:
        raise SystemExit("give --max-steps or --minutes")
    device = resolve_device(args.device)
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "log.jsonl")
    state_path = os.path.join(args.out, "state.pt")
    ckpt_dir = os.path.join(args.out, "checkpoint")

    def log(rec: Dict) -> None:
        rec = {"time": round(time.time(), 1), **rec}
        print(json.dumps(rec), flush=True)
        with open(log_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")

    # SIGTERM: finish the current step, then the final evaluation and save (a driver's soft stop).
    stop_reason: List[Optional[str]] = [None]

    def on_term(signum, frame) -> None:  # noqa: ARG001
        stop_reason[0] = stop_reason[0] or "sigterm"

    signal.signal(signal.SIGTERM, on_term)

    tf32 = enable_tf32() if device.type == "cuda" else None
    tokens = load_kjv_tokens(args.data_dir) if args.data_dir else load_kjv_tokens()
    train, val = split_stream(tokens, 0.05)
    vseqs = val_sequences(val, args.context)
    vsmall = vseqs[torch.randperm(len(vseqs), generator=torch.Generator().manual_seed(7))[: args.eval_seqs]].to(device)
    vseqs = vseqs.to(device)
    eps_min, eps_max = parse_interval(args.noise_interval, args.block_size)

    torch.manual_seed(args.seed)
    if args.init_from:
        base = load_checkpoint(args.init_from)
        cfg = base.config.replace(block_size=args.block_size, sampling_eps_min=eps_min, sampling_eps_max=min(eps_max, 1.0),
                                  training=None)
        model = BD3LM(cfg)
        model.load_state_dict(base.state_dict())
        if args.mask_row == "mean":
            with torch.no_grad():
                emb = model.backbone.vocab_embed.embedding
                emb[cfg.mask_id] = torch.cat([emb[: cfg.mask_id], emb[cfg.mask_id + 1:]]).mean(0)
        del base
    else:
        cfg = demo_config(args.block_size, args.context).replace(
            n_blocks=args.layers, hidden_dim=args.hidden, n_heads=args.heads, sampling_eps_min=eps_min,
            sampling_eps_max=min(eps_max, 1.0))
        model = training_init(BD3LM(cfg), seed=args.seed)
    if cfg.model_length != args.context:
        raise SystemExit(f"--context {args.context} differs from the initial checkpoint's model_length {cfg.model_length}")
    model.to(device)
    model.train()
    use_bf16 = bool(args.bf16 and device.type == "cuda")
    if args.attention == "sdpa":
        if not HAS_SDPA:
            raise SystemExit(f"--attention sdpa: torch {torch.__version__} has no scaled_dot_product_attention")
        model.backbone.attn_impl = "sdpa"
    if device.type == "cuda" or args.preflight:
        want_sdpa = HAS_SDPA and args.attention in ("auto", "sdpa")
        impl, use_bf16 = preflight(model, vsmall[:2], args.block_size, eps_min, eps_max, cfg.mask_id,
                                   want_sdpa, use_bf16, log)
        model.backbone.attn_impl = impl
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    ema = EMA(model, args.ema)
    data = RandomWindows(train, args.context, args.batch_size, seed=args.seed, device=device)
    step, elapsed, tokens_seen = 0, 0.0, 0
    history = []
    if args.resume and os.path.isfile(state_path):
        st = torch_load(state_path)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        ema.shadow = {k: v.to(device) for k, v in st["ema"].items()}
        data.load_state_dict(st["data"])
        step, elapsed, tokens_seen = st["step"], st["elapsed"], st["tokens"]
        eps_min, eps_max = st["interval"]
        history = st.get("history", [])
        torch.set_rng_state(st["rng"])
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], device)
        log({"event": "resume", "step": step, "elapsed_s": round(elapsed, 1)})
    else:
        log({"event": "start", "params": count_parameters(model), "config": cfg.to_json_dict(), "args": vars(args),
             "train_tokens": int(len(train)), "val_tokens": int(len(val)), "interval": [eps_min, eps_max],
             "device": str(device), "torch": torch.__version__, "bf16": use_bf16,
             "attn_impl": model.backbone.attn_impl, "tf32": tf32,
             "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None})

    def progress() -> float:
        ps = []
        if args.max_steps:
            ps.append(step / args.max_steps)
        if args.minutes:
            ps.append(elapsed / (args.minutes * 60))
        return max(ps)

    def should_stop() -> bool:
        if stop_reason[0] is None and args.stop_at is not None and time.time() >= args.stop_at:
            stop_reason[0] = "stop_at"
        return stop_reason[0] is not None

    def save(final: bool = False, eval_rec: Optional[Dict] = None) -> None:
        em = ema_model(model, ema)
        em.config = em.config.replace(
            sampling_eps_min=float(eps_min), sampling_eps_max=float(min(eps_max, 1.0)),
            training={
                "objective": "ar" if args.block_size == 1 else "bd3lm", "block_size": args.block_size,
                "noise_interval": [float(eps_min), float(eps_max)], "steps": step, "tokens": tokens_seen,
                "train_seconds": round(elapsed, 1), "threads": torch.get_num_threads(), "batch_size": args.batch_size,
                "lr": args.lr, "ema": args.ema, "corpus": "kjv-bytes", "init_from": args.init_from,
                **({"device": str(device), "bf16": use_bf16} if device.type != "cpu" else {}),
                **({"eval": eval_rec} if eval_rec else {}),
            })
        em.sampling_eps_min.fill_(float(eps_min))
        em.sampling_eps_max.fill_(float(min(eps_max, 1.0)))
        save_checkpoint(em, ckpt_dir)
        if args.no_state:
            return
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.shadow, "data": data.state_dict(),
                    "step": step, "elapsed": elapsed, "tokens": tokens_seen, "interval": (eps_min, eps_max),
                    "history": history, "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
                   state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)

    # Training time = wall time in the loop minus evaluations and saves (`paused`), plus what a resumed run had.
    base_elapsed = elapsed
    loop_t0 = time.time()
    paused = 0.0
    last_eval = elapsed
    t_log, tok_log, step_log = time.time(), 0, step
    loss_acc: Any = 0.0
    n_acc = 0
    gn = torch.zeros(())
    while progress() < 1.0 and not should_stop():
        lr = lr_at(progress(), args.lr, args.warmup_frac, args.min_lr_frac)
        if args.warmup_steps:
            lr *= min(1.0, (step + 1) / args.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x0 = data.next()
        with amp_context(device, use_bf16):
            loss = training_loss(model, x0, args.block_size, eps_min, eps_max, cfg.mask_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        ema.update(model, step)
        step += 1
        tokens_seen += x0.numel()
        tok_log += x0.numel()
        loss_acc = loss_acc + loss.detach()  # stays on the device: no host sync per step
        n_acc += 1
        elapsed = base_elapsed + time.time() - loop_t0 - paused
        if step % args.log_every == 0:
            mean_loss = float(loss_acc) / n_acc  # the one sync every log_every steps
            now = time.time()
            elapsed = base_elapsed + now - loop_t0 - paused
            log({"step": step, "loss": round(mean_loss, 4), "lr": round(lr, 6), "grad_norm": round(float(gn), 3),
                 "tok_per_s": round(tok_log / (now - t_log), 1),
                 "steps_per_s": round((step - step_log) / (now - t_log), 2), "elapsed_s": round(elapsed, 1),
                 "tokens": tokens_seen, "progress": round(progress(), 4)})
            t_log, tok_log, step_log, loss_acc, n_acc = now, 0, step, 0.0, 0
        if elapsed - last_eval >= args.eval_every_min * 60:
            t_pause = time.time()
            last_eval = elapsed
            em = ema_model(model, ema)
            ev = evaluate(em, vsmall, args.block_size, cfg.mask_id, batch_size=args.eval_batch_size)
            rec = {"event": "eval", "step": step, "val_nll": round(ev["nll"], 4), "val_bpb": round(ev["bits_per_token"], 4),
                   "val_ppl": round(ev["ppl"], 3)}
            if args.search_interval and args.block_size > 1:
                sr = search_interval(em, vsmall[:32], args.block_size, cfg.mask_id, interval_grid(step=0.1),
                                     batch_size=args.eval_batch_size)
                eps_min, eps_max = sr["best"]
                rec["interval"] = [eps_min, eps_max]
            history.append(rec)
            log(rec)
            save()
            paused += time.time() - t_pause
            t_log += time.time() - t_pause  # the eval is not part of the next throughput reading
    sync(device)
    elapsed = base_elapsed + time.time() - loop_t0 - paused
    if stop_reason[0] is not None:
        log({"event": "stop", "reason": stop_reason[0], "step": step, "elapsed_s": round(elapsed, 1),
             "progress": round(progress(), 4)})
    # final evaluation on the held-out set with the EMA weights
    t_final = time.time()
    em = ema_model(model, ema)
    fseqs = vseqs if args.final_eval_seqs <= 0 else vseqs[: args.final_eval_seqs]
    ev = evaluate(em, fseqs, args.block_size, cfg.mask_id, repeats=1 if args.block_size == 1 else args.final_eval_repeats,
                  batch_size=args.eval_batch_size)
    rec = {"event": "final_eval", "step": step, "tokens": tokens_seen, "train_seconds": round(elapsed, 1),
           "val_nll": round(ev["nll"], 5), "val_bpb": round(ev["bits_per_token"], 5), "val_ppl": round(ev["ppl"], 4),
           "val_tokens": ev["tokens"], "bound": "exact NLL" if args.block_size == 1 else "NELBO, t ~ U[1e-3, 1]"}
    rec.update({"interval": [float(eps_min), float(eps_max)], "stopped": stop_reason[0], "device": str(device),
                "bf16": use_bf16, "attn_impl": model.backbone.attn_impl})
    if args.final_search and args.block_size > 1:
        grid = interval_grid(step=args.final_search_step) + [(1e-3, 1.0)]
        trained = (float(eps_min), float(min(eps_max, 1.0)))
        if trained not in grid:
            grid.append(trained)
        sr = search_interval(em, vsmall, args.block_size, cfg.mask_id, grid, batch_size=args.eval_batch_size)
        by = {tuple(r["interval"]): r for r in sr["results"]}
        best = by[tuple(sr["best"])]
        rec["search"] = {"seqs": int(len(vsmall)), "grid_step": args.final_search_step, "criterion": "lowest variance",
                         "best": sr["best"], "best_var": best["var"], "best_mean": best["mean"],
                         "full_var": by[(1e-3, 1.0)]["var"], "trained": list(trained), "trained_var": by[trained]["var"],
                         "results": sr["results"]}
    rec["final_seconds"] = round(time.time() - t_final, 2)
    log(rec)
    save(final=True, eval_rec={k: rec[k] for k in ("val_nll", "val_bpb", "val_ppl", "val_tokens", "bound")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
