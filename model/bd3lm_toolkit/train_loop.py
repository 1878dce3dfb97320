"""The training run behind `python -m bd3lm_toolkit.train` (`run(args)` with the parsed arguments): data, model,
optional GPU preflight, the AdamW loop with the EMA and periodic evals, the SIGTERM / `--stop-at` soft stop, the
final evaluation and the saves (checkpoint, state.pt, log.jsonl). Options and outputs: `train.py`'s docstring."""
from __future__ import annotations

import argparse
import json
import os
import signal
import time
from typing import Any, Dict, List, Optional

import torch

from .checkpoint import save_checkpoint
from .data import RandomWindows, load_kjv_tokens, split_stream, val_sequences
from .dit import HAS_SDPA, count_parameters
from .objective import evaluate, interval_grid, search_interval, training_loss
from .train_device import amp_context, enable_tf32, resolve_device, sync, torch_load
from .train_eval import final_eval
from .train_preflight import preflight
from .train_schedule import EMA, ema_model, lr_at, parse_interval
from .train_setup import build_model


def run(args: argparse.Namespace) -> int:
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
    model, cfg = build_model(args, eps_min, eps_max)
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
    rec = final_eval(args, em, vseqs, vsmall, cfg.mask_id, step, tokens_seen, elapsed, (eps_min, eps_max),
                     stop_reason[0], device, use_bf16)
    rec["final_seconds"] = round(time.time() - t_final, 2)
    log(rec)
    save(final=True, eval_rec={k: rec[k] for k in ("val_nll", "val_bpb", "val_ppl", "val_tokens", "bound")})
    return 0
