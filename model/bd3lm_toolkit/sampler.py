"""Reference KV-cached block diffusion sampler in PyTorch (the released algorithm), and parity fixtures.

Algorithm (batch 1; see model/README.md "Sampler fixtures" for the exact replay contract):
  * The prompt starts with BOS. Its complete blocks are committed (one step each, all keys visible); a
    partial last block becomes the first generated block with the prompt tokens fixed, the rest [MASK].
  * Per block, while a [MASK] remains: run the denoiser on the block (positions absolute, past = committed
    window); SUBS: [MASK] logit -> -inf; probabilities in float64 of softmax(logits / temperature); nucleus
    top-p per row; draw a candidate for every row as argmax(p / E) with E ~ Exp(1) noise [L', V]; reveal ONE
    uniformly chosen still-masked position ("first hitting"); tokens already unmasked are kept.
  * Commit: one more step on the clean block writes its K/V into the cache (its logits are unused).
  * Sliding window: the cache holds at most context_length - L' tokens; the oldest block is dropped.
    Positions stay absolute (rotary only sees i - j).
  * Stop after a block that contains EOS (truncate after it), when the entropy of the last 256 tokens falls
    below a threshold (optional), or after max_new_tokens (truncate to it).
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .dit import BD3LM


@dataclass
class SamplerOptions:
    top_p: float = 0.9
    temperature: float = 1.0
    max_new_tokens: int = 256
    stop_on_eos: bool = True
    entropy_threshold: Optional[float] = None  # the reference uses 4.0 (nats) with GPT-2 tokens
    entropy_window: int = 256
    seed: int = 0


def f32_b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def b64_f32(s: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(shape)


def subs_probs(logits: torch.Tensor, mask_id: int, temperature: float) -> torch.Tensor:
    """[L,V] float32 logits -> float64 probabilities with the [MASK] entry zeroed (SUBS)."""
    z = logits.to(torch.float64) / temperature
    z[:, mask_id] = -math.inf
    return torch.softmax(z, dim=-1)


def nucleus(p: torch.Tensor, top_p: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keep, per row, the most probable tokens whose cumulative probability (sorted descending, ties by lower
    id first) is <= top_p, always at least the first; renormalise. Returns (probs, kept count per row)."""
    if top_p >= 1.0:
        return p, (p > 0).sum(-1)
    _, order = torch.sort(p, dim=-1, descending=True, stable=True)  # ties: lower id first
    sp = torch.gather(p, -1, order)
    keep_sorted = torch.cumsum(sp, dim=-1) <= top_p
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted)
    keep.scatter_(-1, order, keep_sorted)
    q = torch.where(keep, p, torch.zeros_like(p))
    return q / q.sum(-1, keepdim=True), keep.sum(-1)


def _margins(p_full: torch.Tensor, p: torch.Tensor, noise: torch.Tensor, top_p: float) -> Dict[str, float]:
    """How far this step is from a decision flip (for judging replay robustness): the relative gap between the
    best and second-best p/E score, and the distance of the nucleus cut from top_p (cumulative probability just
    before and at the first dropped token)."""
    score = p / noise.to(torch.float64)
    top2 = torch.topk(score, 2).values
    gap = float((top2[0] - top2[1]) / top2[0]) if top2[0] > 0 else 0.0
    if top_p >= 1.0:
        cut = 1.0
    else:
        sp = torch.sort(p_full, descending=True).values
        cs = torch.cumsum(sp, 0)
        k = int((cs <= top_p).sum())
        lo = float(cs[k - 1]) if k >= 1 else 0.0
        hi = float(cs[k]) if k < len(cs) else 1.0
        cut = min(abs(top_p - lo), abs(hi - top_p))
    return {"score_gap": gap, "nucleus_cut": cut}


def entropy_nats(tokens: List[int]) -> float:
    _, counts = np.unique(np.asarray(tokens), return_counts=True)
    f = counts / counts.sum()
    return float(-(f * np.log(f)).sum())


class ReferenceSampler:
    def __init__(self, model: BD3LM, options: SamplerOptions = SamplerOptions(),
                 step_fn: Optional[Callable] = None):
        self.model = model.eval()
        self.cfg = model.config
        self.opt = options
        self.step_fn = step_fn or (lambda *a: model.step(*a))
        self.forwards = 0
        # The forwards (and the K/V cache) run on the model's device; the token choice (float64 SUBS, nucleus,
        # Exp(1) noise from a CPU generator) stays on the CPU, so a GPU run draws exactly what a CPU run draws.
        self.device = next(model.parameters()).device

    @torch.no_grad()
    def _step(self, ids: List[int], start: int, pk, pv):
        Q = len(ids)
        P = pk.shape[3]
        self.forwards += 1
        dev = self.device
        lg, k, v = self.step_fn(torch.tensor([ids], device=dev), torch.arange(start, start + Q, device=dev)[None], pk, pv,
                                torch.ones(1, Q, P + Q, dtype=torch.bool, device=dev))
        return lg[0], k, v

    def _sync(self) -> None:
        """Wait for queued GPU work so wall-clock readings include it (no-op on the CPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def generate(self, prompt: List[int], record: bool = False,
                 noise_source: Optional[Callable[[int, int], torch.Tensor]] = None,
                 reveal_source: Optional[Callable[[int, int, List[int]], int]] = None) -> Dict:
        cfg, opt = self.cfg, self.opt
        L, W, V, M = cfg.block_size, cfg.model_length, cfg.vocab_size, cfg.mask_id
        if not prompt or prompt[0] != cfg.bos_id:
            raise ValueError(f"the prompt must start with BOS ({cfg.bos_id})")
        g = torch.Generator().manual_seed(opt.seed)
        pk = torch.zeros(cfg.n_blocks, 1, cfg.n_heads, 0, cfg.head_dim, device=self.device)
        pv = torch.zeros_like(pk)
        tokens: List[int] = []
        blocks_rec = []
        t0 = time.time()
        self.forwards = 0

        def commit(block: List[int], start: int):
            nonlocal pk, pv
            _, k, v = self._step(block, start, pk, pv)
            pk, pv = torch.cat([pk, k], 3), torch.cat([pv, v], 3)
            if pk.shape[3] > W - L:  # sliding window: drop the oldest block(s)
                drop = pk.shape[3] - (W - L)
                pk, pv = pk[:, :, :, drop:].contiguous(), pv[:, :, :, drop:].contiguous()

        n_full = len(prompt) // L
        for b in range(n_full):
            blk = prompt[b * L:(b + 1) * L]
            commit(blk, b * L)
            tokens += blk
        rest = prompt[n_full * L:]
        self._sync()
        prompt_seconds = time.time() - t0
        prompt_forwards = self.forwards
        stop_reason = None
        generated = 0
        block_index = n_full
        while stop_reason is None:
            start = block_index * L
            x = rest + [M] * (L - len(rest))
            n_prompt_in_block = len(rest)
            rest = []
            steps = []
            past_len = pk.shape[3]
            while M in x:
                logits, _, _ = self._step(x, start, pk, pv)
                step_i = len(steps)
                noise = noise_source(block_index, step_i) if noise_source else torch.empty(L, V).exponential_(generator=g)
                noise = noise.to(torch.float32)
                masked = [i for i, t in enumerate(x) if t == M]
                if reveal_source:
                    j = reveal_source(block_index, step_i, masked)
                else:
                    j = masked[int(torch.randint(len(masked), (1,), generator=g))]
                # A candidate is drawn for every row in the reference, but only the revealed row's is used (the
                # position is chosen independently of the candidates), so only row j is computed here.
                p_full = subs_probs(logits[j:j + 1].cpu(), M, opt.temperature)[0]
                p, kept = nucleus(p_full[None], opt.top_p)
                p, kept = p[0], kept[0]
                x[j] = int(torch.argmax(p / noise[j].to(torch.float64)))
                if record:
                    steps.append({"revealed": j, "token": x[j], "nucleus_size": int(kept),
                                  "margins": _margins(p_full, p, noise[j], opt.top_p),
                                  "noise": f32_b64(noise.numpy())})
                else:
                    steps.append(None)
            commit(x, start)
            new = x[n_prompt_in_block:]
            tokens += x
            generated += len(new)
            if record:
                blocks_rec.append({"index": block_index, "start_position": start, "past_length": past_len,
                                   "prompt_tokens": n_prompt_in_block, "steps": steps, "tokens": list(x)})
            if opt.stop_on_eos and cfg.eos_id in new:
                cut = len(tokens) - len(new) + new.index(cfg.eos_id) + 1
                tokens = tokens[:cut]
                stop_reason = "eos"
            elif generated >= opt.max_new_tokens:
                tokens = tokens[:len(prompt) + opt.max_new_tokens]
                stop_reason = "length"
            elif opt.entropy_threshold is not None and len(tokens) > opt.entropy_window and \
                    entropy_nats(tokens[-opt.entropy_window:]) < opt.entropy_threshold:
                stop_reason = "entropy"
            block_index += 1
        self._sync()
        out = {"tokens": tokens, "stop_reason": stop_reason, "forwards": self.forwards,
               "seconds": time.time() - t0, "generated": len(tokens) - len(prompt),
               "prompt_seconds": prompt_seconds, "prompt_forwards": prompt_forwards}
        if record:
            out["blocks"] = blocks_rec
        return out


def make_fixture(model: BD3LM, package: str, prompt: List[int], options: SamplerOptions, graph_dtype: str = "float32",
                 note: str = "") -> Dict:
    s = ReferenceSampler(model, options)
    res = s.generate(prompt, record=True)
    cfg = model.config
    return {
        "format": "bd3lm-sampler-fixture",
        "version": 1,
        "note": note,
        "package": package,
        "graph_dtype": graph_dtype,
        "vocab_size": cfg.vocab_size,
        "mask_token_id": cfg.mask_id,
        "eos_token_id": cfg.eos_id,
        "block_size": cfg.block_size,
        "context_length": cfg.model_length,
        "prompt_ids": list(prompt),
        "top_p": options.top_p,
        "temperature": options.temperature,
        "max_new_tokens": options.max_new_tokens,
        "stop_on_eos": options.stop_on_eos,
        "entropy_threshold": options.entropy_threshold,
        "entropy_window": options.entropy_window,
        "noise_encoding": "base64 little-endian float32, row-major [block_size, vocab_size]",
        "blocks": res["blocks"],
        "final_tokens": res["tokens"],
        "stop_reason": res["stop_reason"],
        "forwards": res["forwards"],
    }


def replay_fixture(model: BD3LM, fx: Dict) -> Dict:
    """Re-run a fixture with its recorded noise and reveal positions (used by the tests; the TypeScript engine
    does the same with ONNX Runtime)."""
    L, V = fx["block_size"], fx["vocab_size"]
    by_block = {b["index"]: b for b in fx["blocks"]}
    opts = SamplerOptions(top_p=fx["top_p"], temperature=fx["temperature"], max_new_tokens=fx["max_new_tokens"],
                          stop_on_eos=fx["stop_on_eos"], entropy_threshold=fx["entropy_threshold"],
                          entropy_window=fx["entropy_window"])
    s = ReferenceSampler(model, opts)
    return s.generate(
        fx["prompt_ids"], record=True,
        noise_source=lambda b, i: torch.from_numpy(b64_f32(by_block[b]["steps"][i]["noise"], (L, V)).copy()),
        reveal_source=lambda b, i, masked: by_block[b]["steps"][i]["revealed"],
    )


def main(argv=None) -> int:
    from .checkpoint import load_checkpoint
    from .data import decode_bytes, encode_bytes

    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.sampler", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--prompt", default="", help="text (byte tokenizer) after BOS")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--entropy-threshold", type=float, default=None)
    ap.add_argument("--fixture-out", default=None, help="write a replay fixture JSON here")
    ap.add_argument("--package", default=None, help="package path recorded in the fixture (repository-relative)")
    args = ap.parse_args(argv)
    model = load_checkpoint(args.ckpt)
    cfg = model.config
    if cfg.tokenizer != "bytes" and args.prompt:
        raise SystemExit("--prompt text needs the byte tokenizer; GPT-2 prompts are not supported here")
    prompt = encode_bytes(args.prompt) if cfg.tokenizer == "bytes" else [cfg.bos_id]
    for i in range(args.samples):
        opts = SamplerOptions(top_p=args.top_p, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                              entropy_threshold=args.entropy_threshold, seed=args.seed + i)
        if args.fixture_out:
            fx = make_fixture(model, args.package or "", prompt, opts)
            with open(args.fixture_out, "w") as fh:
                json.dump(fx, fh)
            res = {"tokens": fx["final_tokens"], "stop_reason": fx["stop_reason"], "forwards": fx["forwards"]}
        else:
            res = ReferenceSampler(model, opts).generate(prompt)
        text = decode_bytes(res["tokens"][1:]) if cfg.tokenizer == "bytes" else ""
        print(json.dumps({"seed": opts.seed, "stop_reason": res["stop_reason"], "forwards": res["forwards"],
                          "tokens": len(res["tokens"]), "text": text}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
