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
import json
import sys

# The sampler, its arithmetic and the fixtures live in sibling modules (one job each); their names are
# re-exported here because the tests, `fixtures.py`, `demo.py` and `bench_reference.py` import them from `sampler`.
from .dit import BD3LM  # noqa: F401 - re-exported
from .sampler_core import ReferenceSampler, SamplerOptions
from .sampler_fixture import make_fixture, replay_fixture  # noqa: F401 - re-exported
from .sampler_math import _margins, b64_f32, entropy_nats, f32_b64, nucleus, subs_probs  # noqa: F401 - re-exported


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
