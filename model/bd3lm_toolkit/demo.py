"""Package a demo model (kjv-bd3lm-b16 or kjv-bd3lm-b4) from its checkpoint: graphs, measurements, card, fixture.

  bash model/scripts/python.sh -m bd3lm_toolkit.demo --package models/kjv-bd3lm-b16 --ckpt <checkpoint-dir>
      [--training models/kjv-bd3lm-b16/training] [--skip export,samples,engine,parity,fixture] [--verdict TEXT]

Steps, in this order (--skip leaves any of them out; the card is always rewritten):
  export   checkpoint -> model.onnx + model.fp16.onnx + manifest.json (`export.export_package`, with logit_index
           and logit_stats)
  samples  reference-sampler samples: prompts card.SAMPLE_PROMPTS x seeds card.SAMPLE_SEEDS, top-p 0.9,
           200 new bytes                                                                 -> <training>/measured.json
  engine   npm run generate -- --model <package> --prompt "And God said" --max-tokens 200 --seed 0 --json
           (the TypeScript engine, CPU execution provider, float32 graph)                -> <training>/measured.json
  parity   ORT (onnxruntime-node) vs PyTorch, max |diff| and max relative diff of logits/logit_stats per graph dtype
           (`parity.run_parity`)                                                         -> measured.json
  card     <package>/README.md from the training logs in --training + measured.json (`card.write_card`)
  fixture  <package>/fixtures/sampler-demo.json (`fixtures.demo`, prompt "And God said", 3 blocks)

The training logs of the run that produced the checkpoint (results.json, train.log, logs.jsonl of `gpu_demo`;
c16/c4 .log.jsonl and .config.json of the continuation) must already be in --training (see model/README.md,
"Demo models"). The card alone, without a checkpoint: `python -m bd3lm_toolkit.card --package <package>`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict

import torch

from . import card
from .checkpoint import load_checkpoint
from .data import decode_bytes, encode_bytes
from .export import export_package
from .sampler import ReferenceSampler, SamplerOptions

REPO = card.REPO
STEPS = ("export", "samples", "engine", "parity", "fixture")
SAMPLE_TOKENS = 200
TOP_P = 0.9
ENGINE_PROMPT = card.ENGINE_PROMPT


def read_measured(training: str) -> Dict:
    path = os.path.join(training, "measured.json")
    if os.path.isfile(path):
        with open(path) as fh:
            return json.load(fh)
    return {"format": "bd3lm-demo-measured", "version": 1,
            "note": "measured by bd3lm_toolkit.demo from the (uncommitted) checkpoints; read by bd3lm_toolkit.card",
            "packages": {}}


def write_measured(training: str, data: Dict) -> None:
    path = os.path.join(training, "measured.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    os.replace(path + ".tmp", path)


def reference_samples(model) -> Dict:
    out = []
    for prompt in card.SAMPLE_PROMPTS:
        ids = encode_bytes(prompt)
        for seed in card.SAMPLE_SEEDS:
            opts = SamplerOptions(top_p=TOP_P, temperature=1.0, max_new_tokens=SAMPLE_TOKENS, seed=seed)
            res = ReferenceSampler(model, opts).generate(ids)
            out.append({"prompt": prompt, "seed": seed, "text": decode_bytes(res["tokens"][1:]),
                        "stop_reason": res["stop_reason"], "new_tokens": len(res["tokens"]) - len(ids),
                        "forwards": res["forwards"]})
            print(f"sample prompt {prompt!r} seed {seed}: {out[-1]['text']!r}", flush=True)
    return {"sampler": "bd3lm_toolkit.sampler.ReferenceSampler (first hitting)", "top_p": TOP_P, "temperature": 1.0,
            "max_new_tokens": SAMPLE_TOKENS, "stop_on_eos": SamplerOptions().stop_on_eos, "device": "cpu",
            "torch": torch.__version__.split("+")[0], "samples": out}


def engine_sample(package_rel: str) -> Dict:
    args = ["--model", package_rel, "--prompt", ENGINE_PROMPT, "--max-tokens", str(SAMPLE_TOKENS), "--seed", "0"]
    shown = "npm run generate -- " + " ".join(a if " " not in a else json.dumps(a) for a in args)
    t0 = time.time()
    proc = subprocess.run(["npm", "run", "--silent", "generate", "--", *args, "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"engine run failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    last = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")][-1]
    res = json.loads(last)
    res["command"] = shown
    res["dtype"] = "float32"
    res["wall_s"] = round(time.time() - t0, 1)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="package folder, repository-relative (models/kjv-bd3lm-b16)")
    ap.add_argument("--ckpt", required=True, help="the checkpoint folder to package (config.json + model.safetensors)")
    ap.add_argument("--training", default=card.DEFAULT_TRAINING, help="training logs folder (default: %(default)s)")
    ap.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {','.join(STEPS)}")
    ap.add_argument("--verdict", default=None, help="a sentence on the sample quality, kept in measured.json for the card")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(STEPS):
        raise SystemExit(f"--skip: unknown step(s) {sorted(skip - set(STEPS))} (steps: {', '.join(STEPS)})")
    package_rel = os.path.relpath(os.path.join(REPO, args.package) if not os.path.isabs(args.package) else args.package, REPO)
    package = os.path.join(REPO, package_rel)
    name = os.path.basename(os.path.normpath(package))
    model = load_checkpoint(args.ckpt)
    L = model.config.block_size
    if card.PACKAGES.get(L) != name:
        raise SystemExit(f"{args.ckpt} has L' = {L}; the demo package for it is {card.PACKAGES.get(L)!r}, not {name!r}")

    if "export" not in skip:
        man = export_package(model, package, name=name)
        print(json.dumps({"out": package_rel, "graphs": man["graphs"]}, indent=1), flush=True)
    measured = read_measured(args.training)
    entry = measured["packages"].setdefault(name, {})
    if "samples" not in skip:
        entry["reference"] = reference_samples(model)
        write_measured(args.training, measured)
    if "engine" not in skip:
        entry["engine"] = engine_sample(package_rel)
        print(f"engine: {entry['engine']['text']!r}", flush=True)
        write_measured(args.training, measured)
    if "parity" not in skip:
        from .parity import max_abs, max_rel, run_parity
        rep = run_parity(package, model)
        entry["parity"] = max_abs(rep)
        entry["parity_rel"] = max_rel(rep)
        print(f"parity max |diff|: {entry['parity']}; max relative diff: {entry['parity_rel']}", flush=True)
        write_measured(args.training, measured)
    if args.verdict is not None:
        entry["verdict"] = args.verdict
        write_measured(args.training, measured)
    text = card.write_card(package, args.training)
    print(f"wrote {package_rel}/README.md ({len(text):,} characters)", flush=True)
    if "fixture" not in skip:
        from .fixtures import demo as demo_fixture
        demo_fixture(args.ckpt, package_rel, ENGINE_PROMPT, 3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
