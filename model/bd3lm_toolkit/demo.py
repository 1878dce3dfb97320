"""Package the trained demo model(s): export, card with the measured numbers and samples, fixtures.

  bash model/scripts/python.sh -m bd3lm_toolkit.demo --run /tmp/runs/b16 --ar-run /tmp/runs/ar \
      [--other-run /tmp/runs/b4] --out models/kjv-bd3lm-b16 [--samples 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

import torch

from .checkpoint import load_checkpoint
from .data import decode_bytes, encode_bytes
from .dit import count_parameters
from .export import export_package
from .sampler import ReferenceSampler, SamplerOptions

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read_log(run: str) -> Dict:
    start, final, evals = None, None, []
    with open(os.path.join(run, "log.jsonl")) as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("event") == "start" and start is None:
                start = r
            elif r.get("event") == "final_eval":
                final = r
            elif r.get("event") == "eval":
                evals.append(r)
    return {"start": start, "final": final, "evals": evals}


def row(name: str, run: Optional[str]) -> Optional[str]:
    if not run or not os.path.isfile(os.path.join(run, "log.jsonl")):
        return None
    lg = read_log(run)
    f = lg["final"]
    if not f:
        return None
    cfg = load_checkpoint(os.path.join(run, "checkpoint")).config
    tr = cfg.training or {}
    init = f"init from {os.path.basename(os.path.dirname(tr['init_from'].rstrip('/')))}" if tr.get("init_from") else "from scratch"
    interval = "t = 1 (exact NLL)" if cfg.block_size == 1 else f"U[{tr['noise_interval'][0]}, {tr['noise_interval'][1]}]"
    return (f"| {name} | {cfg.block_size} | {interval} | {init} | {f['step']:,} | {f['tokens'] / 1e6:.2f}M | "
            f"{f['train_seconds'] / 60:.1f} | {f['val_nll']:.4f} | {f['val_bpb']:.3f} | {f['val_ppl']:.3f} | {f['bound']} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run folder of the model to package")
    ap.add_argument("--ar-run", default=None)
    ap.add_argument("--other-run", action="append", default=[], help="[label=]run-dir, another row in the table")
    ap.add_argument("--out", required=True, help="package folder (repository-relative, e.g. models/kjv-bd3lm-b16)")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--sample-tokens", type=int, default=192)
    ap.add_argument("--fixture-blocks", type=int, default=3)
    ap.add_argument("--no-fixture", action="store_true")
    ap.add_argument("--verdict", default="", help="a sentence on the sample quality for the card")
    args = ap.parse_args(argv)
    ckpt = os.path.join(args.run, "checkpoint")
    model = load_checkpoint(ckpt)
    cfg = model.config
    tr = cfg.training or {}
    name = os.path.basename(os.path.normpath(args.out))

    rows = [r for r in [row("AR baseline", args.ar_run), row(f"**this model** ({name})", args.run)] +
            [row(*(o.rsplit("=", 1) if "=" in o else (os.path.basename(os.path.normpath(o)), o))) for o in args.other_run] if r]
    samples: List[str] = []
    prompts = ["", "And God said", "In the beginning"]
    for i in range(args.samples):
        p = prompts[i % len(prompts)]
        res = ReferenceSampler(model, SamplerOptions(top_p=0.9, max_new_tokens=args.sample_tokens, seed=i)).generate(encode_bytes(p))
        samples.append(decode_bytes(res["tokens"][1:]))

    threads = tr.get("threads", "?")
    st = read_log(args.run)["start"] or {}
    repeats = (st.get("args") or {}).get("final_eval_repeats", 1)
    lines = [
        "## Training",
        "",
        "Corpus: the King James Bible (public domain), dumped with Debian's `bible` program (package `bible-kjv`),",
        "verse numbers and chapter headings removed, one book per document; byte-level tokens (0..255 = bytes,",
        "256 = BOS/EOS, 257 = [MASK]). The last 5% of the token stream (206,896 tokens: the end of the New",
        "Testament) is held out; sequences are BOS + 255 bytes. Data licence: public domain (KJV). The weights",
        "are released under this repository's licence.",
        "",
        f"Recipe: an AR model (BD3-LM with L' = 1 and every x_t token masked, i.e. the exact AR objective) trained",
        f"from scratch, then this model initialised from it and fine-tuned with the BD3-LM objective (L' = {cfg.block_size},",
        f"clipped schedule {tr.get('noise_interval')}, vectorized x_t (+) x_0 pass), EMA weights. AdamW, batch",
        f"{tr.get('batch_size')} x 256 tokens, {threads} CPU thread(s) per run (torch 1.13, OpenBLAS) on a 2-core machine",
        "shared with other jobs (the AR run, then the L' = 16 and L' = 4 fine-tunes in parallel): throughput",
        "varied between ~300 and ~2,300 tokens/s, so these are small, undertrained models.",
        "",
        f"Held-out results (BOS excluded; BD3 rows are NELBO upper bounds with t ~ U[1e-3, 1], {repeats} pass(es) over",
        "the held-out set; the AR row is the exact NLL). Minutes are training wall-clock.",
        "",
        "| model | L' | train t | init | steps | tokens | minutes | NLL (nats/byte) | bits/byte | PPL |  |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Parameters: {count_parameters(model):,} in the checkpoint, of which the adaLN/sigma_map part is folded into",
        "constants in the graph.",
        "",
        "## Samples",
        "",
        f"Reference sampler (first hitting, top-p 0.9, L' = {cfg.block_size}, one forward per token + one commit per block),",
        f"seeds 0..{args.samples - 1}, prompts after BOS shown in the first line:",
        "",
    ]
    for i, s in enumerate(samples):
        lines += [f"Sample {i} (prompt {prompts[i % len(prompts)]!r}):", "", "```", s.replace("```", "'''"), "```", ""]
    if args.verdict:
        lines += ["Verdict: " + args.verdict, ""]
    lines += [
        "## Fixtures",
        "",
        "`fixtures/sampler-demo.json`: a reference-sampler run with its noise and reveal positions, for the engine's",
        "replay test (format in `model/README.md`).",
    ]
    man = export_package(model, os.path.join(REPO, args.out), name=name, card_extra="\n".join(lines),
                         source=f"{ckpt} (not committed; regenerate with the recipe in model/README.md)")
    print(json.dumps({"out": args.out, "graphs": man["graphs"], "rows": rows}, indent=1))
    for s in samples:
        print("----\n" + s)
    if not args.no_fixture:
        from .fixtures import demo as demo_fixture
        demo_fixture(ckpt, args.out, "And God said", args.fixture_blocks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
