"""The reference KV-cached block diffusion sampler (`ReferenceSampler`, batch 1) and its options; the algorithm
is in the module docstring of `sampler.py` and, as a replay contract, in model/README.md "Sampler fixtures"."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

from .dit import BD3LM
from .sampler_math import _margins, entropy_nats, f32_b64, nucleus, subs_probs


@dataclass
class SamplerOptions:
    top_p: float = 0.9
    temperature: float = 1.0
    max_new_tokens: int = 256
    stop_on_eos: bool = True
    entropy_threshold: Optional[float] = None  # the reference uses 4.0 (nats) with GPT-2 tokens
    entropy_window: int = 256
    seed: int = 0


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
