"""Model cards of the demo packages (kjv-bd3lm-b16, kjv-bd3lm-b4), built from the training logs committed with them.

  bash model/scripts/python.sh -m bd3lm_toolkit.card --package models/kjv-bd3lm-b16 [--training DIR]

Inputs (DIR defaults to models/kjv-bd3lm-b16/training, shared by both packages), all committed:
  results.json, logs.jsonl, train.log   the `gpu_demo` run (phase 1 AR from scratch; phase 2 AR continued,
                                        BD3 L' = 16 and L' = 4 from it)
  c16.log.jsonl, c4.log.jsonl           the continuation of the two BD3 models (`train.py` logs: start record with
  c16.config.json, c4.config.json       the arguments, progress, final_eval with the grid search) and the
                                        continued checkpoints' config.json (the packaged models)
  measured.json                         what `bd3lm_toolkit.demo` measured here from the checkpoints: reference-
                                        sampler samples, the engine's output, ORT parity
plus the package's manifest.json. Writes the package's README.md. Needs no checkpoint and no torch weights, so a
card can be regenerated (and tested) from the repository alone; the numbers come from the logs, not from this file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict

# The inputs, the formatting helpers and the sections live in sibling modules (one job each); their names are
# re-exported here because the tests and `demo.py` use them as `card.<name>`.
from .card_data import (CPU_HISTORY, CPU_TOKENS, DEFAULT_TRAINING, ENGINE_PROMPT, PACKAGES,  # noqa: F401
                        PAPER_INTERVAL, REPO, RUN_NOTES, SAMPLE_PROMPTS, SAMPLE_SEEDS, _lr, load_training,
                        read_jsonl, stage_rows)
from .card_format import command_line, interval, lr_text, mtok, reproduce_commands  # noqa: F401 - re-exported
from .card_measured import parity_lines, samples_section  # noqa: F401 - re-exported
from .card_training import recipe_section, results_section, search_section  # noqa: F401 - re-exported
from .config import BD3LMConfig
from .export import default_card


def card_extra(tr: Dict, L: int) -> str:
    res = tr["results"]
    corpus = res["corpus"]
    rows = stage_rows(tr)
    lines = [
        *parity_lines(tr, L),
        "## Training",
        "",
        "Corpus: the King James Bible (public domain), dumped with Debian's `bible` program (package `bible-kjv`), "
        "verse numbers and chapter headings removed, one book per document "
        f"({corpus['documents']} books, {corpus['bytes']:,} bytes, sha256 `{corpus['sha256']}`: the file "
        "`bd3lm_toolkit.data.prepare_kjv()` writes). Byte-level tokens (0..255 = bytes, 256 = BOS/EOS, 257 = [MASK]). "
        f"The last 5% of the token stream ({corpus['val_tokens']:,} tokens: the end of the New Testament) is held out; "
        f"{corpus['train_tokens']:,} training tokens; sequences are BOS + 255 bytes. Data licence: public domain (KJV). "
        "The weights are released under this repository's licence.",
        "",
        f"In short: an AR model (BD3-LM with L' = 1 and every x_t token masked: exactly the AR objective) "
        f"trained from scratch, then this model initialised from it and fine-tuned with the BD3-LM objective "
        f"(L' = {L}, clipped noise schedule, vectorized x_t (+) x_0 pass), then fine-tuned further.",
        "",
        *recipe_section(tr, L, rows),
        "",
        *results_section(tr, L, rows),
        "",
        *search_section(tr, L, rows),
        "",
        "### Reproduce",
        "",
        f"The checkpoints are not committed (`model.safetensors`, ~10 MB each). On a machine with a CUDA GPU and a "
        "python3 with torch >= 2 (`--data` takes the corpus file, plain or xz-compressed: `xz -k` the `kjv.txt` "
        "that `prepare_kjv()` writes; the machine needs no `bible` program):",
        "",
        "```",
        *reproduce_commands(tr),
        f"bash model/scripts/python.sh -m bd3lm_toolkit.demo --package models/{PACKAGES[16]} --ckpt C16/checkpoint",
        f"bash model/scripts/python.sh -m bd3lm_toolkit.demo --package models/{PACKAGES[4]} --ckpt C4/checkpoint",
        "```",
        "",
        "Budgets are wall-clock, so steps (and the numbers) vary with the machine and what else runs on it. The logs "
        "these numbers come from are in `models/kjv-bd3lm-b16/training/` (`results.json`, `train.log`, `logs.jsonl`: "
        "the gpu_demo run; `c16.log.jsonl`, `c4.log.jsonl`, `c*.config.json`: stage 3; `measured.json`: samples and "
        "parity measured here); `bash model/scripts/python.sh -m bd3lm_toolkit.card --package models/<name>` "
        "rewrites this card from them.",
        "",
        *samples_section(tr, L),
    ]
    lines += ["## Fixtures", "",
              "`fixtures/sampler-demo.json`: a reference-sampler run with its noise and reveal positions, for the "
              "engine's replay test (format in `model/README.md`)."]
    return "\n".join(lines)


def card_config(tr: Dict, L: int) -> BD3LMConfig:
    """The packaged checkpoint's config (its `training` record feeds the card's header), with the continuation's
    init_from (a path on the GPU machine) replaced by what it was."""
    cfg = BD3LMConfig.load(tr["cont"][L]["config"])
    t = dict(cfg.training or {})
    if t.get("init_from"):
        t["init_from"] = f"gpu_demo b{L}/checkpoint (stage 2)"
    return cfg.replace(training=t)


def render_card(package: str, training: str = DEFAULT_TRAINING) -> str:
    """The card of <package> (README.md text) from its manifest and the training logs."""
    with open(os.path.join(package, "manifest.json")) as fh:
        man = json.load(fh)
    L = int(man["block_size"])
    if L not in PACKAGES:
        raise SystemExit(f"{package}: block size {L}: no demo logs for it (demo packages: {sorted(PACKAGES)})")
    tr = load_training(training)
    cfg = card_config(tr, L)
    params = tr["results"]["runs"][f"b{L}"]["params"]
    src = f"c{L}/checkpoint of stage 3 (not committed; see Reproduce)"
    return default_card(cfg, man["name"], params, src, man, card_extra(tr, L))


def write_card(package: str, training: str = DEFAULT_TRAINING) -> str:
    """Rewrites <package>/README.md; returns the text."""
    text = render_card(package, training)
    with open(os.path.join(package, "README.md"), "w") as fh:
        fh.write(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.card", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="package folder, e.g. models/kjv-bd3lm-b16")
    ap.add_argument("--training", default=DEFAULT_TRAINING, help="folder with the training logs (default: %(default)s)")
    args = ap.parse_args(argv)
    text = write_card(args.package, args.training)
    print(f"wrote {os.path.join(args.package, 'README.md')} ({len(text):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
