"""Train a BD3-LM (or its L'=1 AR special case) on the byte-level KJV corpus.

  npm run model:train -- --out /tmp/runs/ar --block-size 1 --minutes 25
  npm run model:train -- --out /tmp/runs/b16 --block-size 16 --init-from /tmp/runs/ar/checkpoint --minutes 30

Writes <out>/checkpoint/ (official HF layout, EMA weights), <out>/state.pt (raw weights, optimizer, EMA, data
RNG: `--resume` continues from it) and <out>/log.jsonl. See model/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, Optional

import torch

from .checkpoint import CONFIG_FILE, load_checkpoint, save_checkpoint
from .config import BD3LMConfig, demo_config
from .data import MASK, RandomWindows, decode_bytes, load_kjv_tokens, split_stream, val_sequences
from .dit import BD3LM, count_parameters, training_init
from .objective import evaluate, interval_grid, search_interval, training_loss


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: p.detach().clone() for k, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up so early EMA is not dominated by the init
        for k, p in model.named_parameters():
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
    m = BD3LM(model.config)
    m.load_state_dict(model.state_dict())
    ema.copy_to(m)
    return m.eval()


def main(argv=None) -> int:
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
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock training budget (the LR schedule follows it)")
    ap.add_argument("--noise-interval", default="paper",
                    help="beta,omega | full (U[1e-3,1]) | paper (L'<=4: 0.45,0.95; else 0.3,0.8); ignored for L'=1")
    ap.add_argument("--search-interval", action="store_true", help="re-pick the interval by grid search at each eval")
    ap.add_argument("--eval-every-min", type=float, default=5.0)
    ap.add_argument("--eval-seqs", type=int, default=64, help="held-out sequences used by the periodic eval")
    ap.add_argument("--final-eval-seqs", type=int, default=0, help="0 = all held-out sequences")
    ap.add_argument("--final-eval-repeats", type=int, default=2)
    ap.add_argument("--init-from", default=None, help="checkpoint folder to start from (e.g. the L'=1 AR run)")
    ap.add_argument("--mask-row", choices=["keep", "mean"], default="keep",
                    help="with --init-from: 'mean' resets the [MASK] embedding to the mean of the other rows")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--log-every", type=int, default=20)
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.max_steps is None and args.minutes is None:
        raise SystemExit("give --max-steps or --minutes")
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "log.jsonl")
    state_path = os.path.join(args.out, "state.pt")
    ckpt_dir = os.path.join(args.out, "checkpoint")

    def log(rec: Dict) -> None:
        rec = {"time": round(time.time(), 1), **rec}
        print(json.dumps(rec), flush=True)
        with open(log_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")

    tokens = load_kjv_tokens(args.data_dir) if args.data_dir else load_kjv_tokens()
    train, val = split_stream(tokens, 0.05)
    vseqs = val_sequences(val, args.context)
    vsmall = vseqs[torch.randperm(len(vseqs), generator=torch.Generator().manual_seed(7))[: args.eval_seqs]]
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
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    ema = EMA(model, args.ema)
    data = RandomWindows(train, args.context, args.batch_size, seed=args.seed)
    step, elapsed, tokens_seen = 0, 0.0, 0
    history = []
    if args.resume and os.path.isfile(state_path):
        st = torch.load(state_path, map_location="cpu")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        ema.shadow = st["ema"]
        data.load_state_dict(st["data"])
        step, elapsed, tokens_seen = st["step"], st["elapsed"], st["tokens"]
        eps_min, eps_max = st["interval"]
        history = st.get("history", [])
        torch.set_rng_state(st["rng"])
        log({"event": "resume", "step": step, "elapsed_s": round(elapsed, 1)})
    else:
        log({"event": "start", "params": count_parameters(model), "config": cfg.to_json_dict(), "args": vars(args),
             "train_tokens": int(len(train)), "val_tokens": int(len(val)), "interval": [eps_min, eps_max]})

    def progress() -> float:
        ps = []
        if args.max_steps:
            ps.append(step / args.max_steps)
        if args.minutes:
            ps.append(elapsed / (args.minutes * 60))
        return max(ps)

    def save(final: bool = False, eval_rec: Optional[Dict] = None) -> None:
        em = ema_model(model, ema)
        em.config = em.config.replace(
            sampling_eps_min=float(eps_min), sampling_eps_max=float(min(eps_max, 1.0)),
            training={
                "objective": "ar" if args.block_size == 1 else "bd3lm", "block_size": args.block_size,
                "noise_interval": [float(eps_min), float(eps_max)], "steps": step, "tokens": tokens_seen,
                "train_seconds": round(elapsed, 1), "threads": torch.get_num_threads(), "batch_size": args.batch_size,
                "lr": args.lr, "ema": args.ema, "corpus": "kjv-bytes", "init_from": args.init_from,
                **({"eval": eval_rec} if eval_rec else {}),
            })
        em.sampling_eps_min.fill_(float(eps_min))
        em.sampling_eps_max.fill_(float(min(eps_max, 1.0)))
        save_checkpoint(em, ckpt_dir)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.shadow, "data": data.state_dict(),
                    "step": step, "elapsed": elapsed, "tokens": tokens_seen, "interval": (eps_min, eps_max),
                    "history": history, "rng": torch.get_rng_state()}, state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)

    last_eval = elapsed
    t_log, tok_log = time.time(), 0
    loss_acc, n_acc = 0.0, 0
    while progress() < 1.0:
        t0 = time.time()
        lr = lr_at(progress(), args.lr, args.warmup_frac, args.min_lr_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        x0 = data.next()
        loss = training_loss(model, x0, args.block_size, eps_min, eps_max, cfg.mask_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        ema.update(model, step)
        step += 1
        tokens_seen += x0.numel()
        tok_log += x0.numel()
        elapsed += time.time() - t0
        loss_acc += float(loss)
        n_acc += 1
        if step % args.log_every == 0:
            now = time.time()
            log({"step": step, "loss": round(loss_acc / n_acc, 4), "lr": round(lr, 6), "grad_norm": round(float(gn), 3),
                 "tok_per_s": round(tok_log / (now - t_log), 1), "elapsed_s": round(elapsed, 1), "tokens": tokens_seen,
                 "progress": round(progress(), 4)})
            t_log, tok_log, loss_acc, n_acc = now, 0, 0.0, 0
        if elapsed - last_eval >= args.eval_every_min * 60:
            last_eval = elapsed
            em = ema_model(model, ema)
            ev = evaluate(em, vsmall, args.block_size, cfg.mask_id)
            rec = {"event": "eval", "step": step, "val_nll": round(ev["nll"], 4), "val_bpb": round(ev["bits_per_token"], 4),
                   "val_ppl": round(ev["ppl"], 3)}
            if args.search_interval and args.block_size > 1:
                sr = search_interval(em, vsmall[:32], args.block_size, cfg.mask_id, interval_grid(step=0.1))
                eps_min, eps_max = sr["best"]
                rec["interval"] = [eps_min, eps_max]
            history.append(rec)
            log(rec)
            save()
    # final evaluation on the held-out set with the EMA weights
    em = ema_model(model, ema)
    fseqs = vseqs if args.final_eval_seqs <= 0 else vseqs[: args.final_eval_seqs]
    ev = evaluate(em, fseqs, args.block_size, cfg.mask_id, repeats=1 if args.block_size == 1 else args.final_eval_repeats)
    rec = {"event": "final_eval", "step": step, "tokens": tokens_seen, "train_seconds": round(elapsed, 1),
           "val_nll": round(ev["nll"], 5), "val_bpb": round(ev["bits_per_token"], 5), "val_ppl": round(ev["ppl"], 4),
           "val_tokens": ev["tokens"], "bound": "exact NLL" if args.block_size == 1 else "NELBO, t ~ U[1e-3, 1]"}
    log(rec)
    save(final=True, eval_rec={k: rec[k] for k in ("val_nll", "val_bpb", "val_ppl", "val_tokens", "bound")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
