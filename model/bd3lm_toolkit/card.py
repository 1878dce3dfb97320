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
from typing import Dict, List, Optional

from .config import BD3LMConfig
from .export import default_card

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_TRAINING = os.path.join(REPO, "models", "kjv-bd3lm-b16", "training")
PACKAGES = {16: "kjv-bd3lm-b16", 4: "kjv-bd3lm-b4"}
PAPER_INTERVAL = {16: [0.3, 0.8], 4: [0.45, 0.95]}
SAMPLE_PROMPTS = ["And God said", "", "In the beginning"]
SAMPLE_SEEDS = [0, 1, 2]
ENGINE_PROMPT = "And God said"

# Facts about this run that are not in its logs (told by whoever ran it).
RUN_NOTES = {
    "phase2_shared": "during stage 2 the GPU and the CPU were also used by an engine benchmark (WebGPU and CPU "
                     "execution providers), so its steps/s are lower than the GPU allows",
    "continuation_where": "on the same H200 right after the gpu_demo run, two concurrent processes",
}
# The packages these replaced: same architecture and recipe on a CPU (commit 6b7415d).
CPU_HISTORY = ("History: the previous packages (same architecture and recipe, batch 16, trained for ~1 h on 2 busy "
               "CPU cores, ~2.9M tokens per BD3 model) reached AR continued 2.685 / L' = 4 2.998 / L' = 16 3.133 "
               "bits/byte.")
CPU_TOKENS = 2.9e6  # 0.93M (AR from scratch) + ~1.97M (BD3 fine-tune)


def read_jsonl(path: str) -> List[Dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_training(training: str) -> Dict:
    """The records the card is built from; KeyError/FileNotFoundError name what is missing."""
    with open(os.path.join(training, "results.json")) as fh:
        results = json.load(fh)
    cont = {}
    for L in PACKAGES:
        recs = read_jsonl(os.path.join(training, f"c{L}.log.jsonl"))
        start = next(r for r in recs if r.get("event") == "start")
        final = next(r for r in recs if r.get("event") == "final_eval")
        progress = [r for r in recs if "step" in r and "event" not in r]
        cont[L] = {"start": start, "final": final, "progress": progress,
                   "config": os.path.join(training, f"c{L}.config.json")}
    measured_path = os.path.join(training, "measured.json")
    measured = {}
    if os.path.isfile(measured_path):
        with open(measured_path) as fh:
            measured = json.load(fh)
    return {"dir": training, "results": results, "cont": cont, "measured": measured}


# ---------------------------------------------------------------------------------------------------- formatting

def mtok(n: float) -> str:
    return f"{n / 1e6:.1f}M"


def lr_text(lr: float) -> str:
    """2.5e-3, 8e-4: the way the learning rates are written on the command line."""
    m, e = f"{lr:e}".split("e")
    return f"{float(m):g}e{int(e)}"


def interval(iv) -> str:
    lo, hi = iv
    return f"U[{'1e-3' if abs(lo - 1e-3) < 1e-9 else f'{lo:g}'}, {hi:g}]"


def command_line(prog: str, parser: argparse.ArgumentParser, recorded: Dict, replace: Dict[str, Optional[str]],
                 always: tuple = ()) -> str:
    """The command line that gives `recorded` (an args record from a log): every option whose recorded value differs
    from the parser's default (and those in `always`), in the parser's order. `replace` maps dest -> placeholder
    (None drops the option: for values the program derives itself when the option is not given)."""
    parts = [prog]
    for act in parser._actions:
        if not act.option_strings or act.dest == "help" or act.dest not in recorded:
            continue
        val = recorded[act.dest]
        if act.dest in replace:
            if replace[act.dest] is None:
                continue
            val = replace[act.dest]
        elif val == act.default and act.dest not in always:
            continue
        flag = act.option_strings[-1] if act.dest == "data_dir" else act.option_strings[0]
        if isinstance(act, argparse._StoreTrueAction):
            if val:
                parts.append(flag)
            continue
        text = f"{val:g}" if isinstance(val, float) else str(val)
        parts.append(f"{flag} {text}")
    return " ".join(parts)


def reproduce_commands(tr: Dict) -> List[str]:
    from .gpu_demo import build_parser as gpu_demo_parser
    from .train import build_parser as train_parser

    res = tr["results"]
    lines = [
        "PYTHONPATH=model " + command_line("python3 -m bd3lm_toolkit.gpu_demo", gpu_demo_parser(), res["args"],
                                           # total_minutes and threads: derived from the others when not given
                                           {"data": "kjv.txt.xz", "out": "OUT", "total_minutes": None, "threads": None},
                                           always=("minutes_ar", "minutes_bd3")),
    ]
    for L in PACKAGES:
        rec = tr["cont"][L]["start"]["args"]
        lines.append("PYTHONPATH=model " + command_line(
            "python3 -m bd3lm_toolkit.train", train_parser(), rec,
            {"out": f"C{L}", "init_from": f"OUT/b{L}/checkpoint", "data_dir": "kjv.txt.xz", "stop_at": None}) + " &")
    lines.append("wait")
    return lines


# ---------------------------------------------------------------------------------------------------- sections

def stage_rows(tr: Dict) -> List[Dict]:
    """One dict per training run, in order: stage, label, L', init, lr, minutes, steps, tokens, final eval."""
    runs = tr["results"]["runs"]
    rows = []
    labels = {"ar": "AR from scratch", "ar2": "AR continued", "b16": "BD3-LM L' = 16", "b4": "BD3-LM L' = 4"}
    for key, stage in (("ar", 1), ("ar2", 2), ("b16", 2), ("b4", 2)):
        r = runs[key]
        f = r["final_eval"]
        rows.append({"key": key, "stage": stage, "label": labels[key], "L": r["block_size"],
                     "lr": _lr(tr, key), "init": "scratch" if not r.get("init_from") else "stage 1",
                     "minutes": f["train_seconds"] / 60, "steps": f["step"], "tokens": f["tokens"], "final": f,
                     "attn": r.get("attn_impl"), "start_interval": r.get("start_interval"), "evals": r.get("evals", []),
                     "search": r.get("search")})
    for L in PACKAGES:
        c = tr["cont"][L]
        f = c["final"]
        rows.append({"key": f"c{L}", "stage": 3, "label": f"BD3-LM L' = {L}", "L": L, "lr": c["start"]["args"]["lr"],
                     "init": "stage 2", "minutes": f["train_seconds"] / 60, "steps": f["step"], "tokens": f["tokens"],
                     "final": f, "attn": c["start"].get("attn_impl"), "start_interval": f.get("interval"),
                     "evals": [], "search": f.get("search")})
    return rows


def _lr(tr: Dict, key: str) -> float:
    for rec in read_jsonl(os.path.join(tr["dir"], "logs.jsonl")):
        if rec.get("run") == key and rec.get("event") == "start":
            return rec["args"]["lr"]
    a = tr["results"]["args"]
    return a["lr_ar"] if key == "ar" else a["lr_ft"]


def recipe_section(tr: Dict, L: int, rows: List[Dict]) -> List[str]:
    res = tr["results"]
    env = res["env"]
    gpu = res["runs"]["ar"].get("gpu", "GPU")
    a = res["args"]
    cont_args = tr["cont"][L]["start"]["args"]
    by = {r["key"]: r for r in rows}
    lines = [
        "### Recipe",
        "",
        f"Hardware: one {gpu} (torch {env['torch']}, CUDA {env['cuda']}), bf16 autocast for the forward pass and the "
        "loss (parameters, EMA and AdamW state float32), TF32 matmuls, fused SDPA attention after a preflight against "
        f"the explicit form. Batch {a['batch_size']} sequences x {a['context']} tokens ({a['batch_size'] * a['context']:,} "
        "tokens per step), AdamW without weight decay, gradient clipping 1.0, linear warm-up then cosine decay by "
        f"wall-clock to {a['min_lr_frac']:g} x the peak LR, EMA {a['ema']:g} (the checkpoint holds the EMA weights).",
        "",
        "| stage | run | L' | init | peak lr | train minutes | steps | tokens | steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    stage_name = {1: "1: gpu_demo phase 1", 2: "2: gpu_demo phase 2 (3 concurrent processes)",
                  3: "3: continuation (2 concurrent processes)"}
    for r in rows:
        this = " (this model)" if r["key"] == f"c{L}" else ""
        lines.append(f"| {stage_name[r['stage']]} | {r['label']}{this} | {r['L']} | {r['init']} | {lr_text(r['lr'])} | "
                     f"{r['minutes']:.2f} | {r['steps']:,} | {mtok(r['tokens'])} | {r['steps'] / (r['minutes'] * 60):.1f} |")
    b = by[f"b{L}"]
    fallback = [r for r in rows if r["attn"] and r["attn"] != "sdpa"]
    total_tok = by["ar"]["tokens"] + b["tokens"] + by[f"c{L}"]["tokens"]
    total_min = by["ar"]["minutes"] + b["minutes"] + by[f"c{L}"]["minutes"]
    first_eval = b["evals"][0] if b["evals"] else None
    lines += [
        "",
        f"Stage 1 and 2 are one `gpu_demo` command ({res['wall_s'] / 60:.1f} min wall-clock in all); "
        f"{RUN_NOTES['phase2_shared']}. Stage 3 ran {RUN_NOTES['continuation_where']}, with its own warm-up "
        f"({cont_args['warmup_steps']} steps) and a lower peak LR. Only the BD3 models got stage 3: they were trained "
        f"{b['minutes']:.1f} + {by[f'c{L}']['minutes']:.1f} minutes after stage 1, the AR continued run "
        f"{by['ar2']['minutes']:.1f} minutes.",
        "",
        f"Noise interval (clipped schedule): stage 2 started at the paper's {interval(b['start_interval'])} and "
        "re-picked it by grid search (lowest variance of the held-out NELBO estimate, "
        f"{a['eval_seqs']} sequences, step {a['search_step']:g}) at each periodic eval"
        + (f": {interval(first_eval['interval'])} from the first eval (step {first_eval['step']}) on" if first_eval else "")
        + f"; stage 3 kept {interval(tr['cont'][L]['final']['interval'])} fixed.",
        "",
        f"This model in total: {mtok(total_tok)} training tokens in {total_min:.1f} minutes of training "
        f"(stage 1 {mtok(by['ar']['tokens'])}, stage 2 {mtok(b['tokens'])}, stage 3 {mtok(by[f'c{L}']['tokens'])}).",
    ]
    for r in fallback:
        failed = [p for p in (res["runs"].get(r["key"], {}).get("preflight") or [])
                  if p.get("check") == "sdpa_vs_explicit" and not p.get("ok")]
        why = (f": its preflight found SDPA {failed[0]['rel_max_diff']:.3f} (relative max) from the explicit form "
               f"under {'bf16' if failed[0].get('bf16') else 'fp32'}, more than the trainer accepts") if failed else ""
        lines += ["", f"Attention: stage {r['stage']} {r['label']} used the explicit attention{why}; the other runs "
                      "used SDPA."]
    return lines


def results_section(tr: Dict, L: int, rows: List[Dict]) -> List[str]:
    by = {r["key"]: r for r in rows}
    other = 4 if L == 16 else 16
    order = ["ar", "ar2", "b4", "c4", "b16", "c16"]
    names = {"ar": "AR from scratch (stage 1)", "ar2": "AR continued (stage 1 + 2)",
             "b4": "BD3-LM L' = 4 after stage 2", "c4": "BD3-LM L' = 4, stage 1 + 2 + 3",
             "b16": "BD3-LM L' = 16 after stage 2", "c16": "BD3-LM L' = 16, stage 1 + 2 + 3"}
    names[f"c{L}"] = f"**this model** ({PACKAGES[L]}), stage 1 + 2 + 3"
    names[f"c{other}"] = f"{names[f'c{other}']} ({PACKAGES[other]})"
    ar_f = by["ar"]["final"]
    bd_f = by[f"c{L}"]["final"]
    lines = [
        "### Held-out results",
        "",
        f"Held-out set: the last 5% of the token stream; BOS excluded. AR rows: exact NLL ({ar_f['val_tokens']:,} "
        f"scored tokens). BD3 rows: the NELBO, an upper bound on the NLL, with t ~ U[1e-3, 1] "
        f"({bd_f['val_tokens'] // ar_f['val_tokens']} passes over the held-out set, {bd_f['val_tokens']:,} scored "
        "tokens), whatever interval the model was trained with. bits/byte = NLL / ln 2, PPL = exp(NLL). Steps, tokens "
        "and minutes are those of the row's own stage.",
        "",
        "| model | L' | steps | tokens | train minutes | NLL (nats/byte) | bits/byte | PPL | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k in order:
        r = by[k]
        f = r["final"]
        bound = "exact NLL" if r["L"] == 1 else "NELBO bound"
        le = "" if r["L"] == 1 else "<= "
        lines.append(f"| {names[k]} | {r['L']} | {r['steps']:,} | {mtok(r['tokens'])} | {r['minutes']:.2f} | "
                     f"{le}{f['val_nll']:.4f} | {le}{f['val_bpb']:.3f} | {le}{f['val_ppl']:.3f} | {bound} |")
    ar2, b4, b16 = by["ar2"]["final"]["val_bpb"], by["c4"]["final"]["val_bpb"], by["c16"]["final"]["val_bpb"]
    holds = ar2 <= b4 <= b16
    lines += [
        "",
        (f"Order, as in the paper: AR continued {ar2:.3f} <= BD3-LM L' = 4 <= {b4:.3f} <= BD3-LM L' = 16 <= {b16:.3f} "
         "bits/byte (the BD3 numbers are upper bounds)" if holds else
         f"The paper's order AR <= L' = 4 <= L' = 16 does NOT hold here: {ar2:.3f} / {b4:.3f} / {b16:.3f} bits/byte")
        + f". The comparison favours the BD3 models, which had stage 3 ({by[f'c{L}']['minutes']:.1f} more minutes) "
          f"that the AR continued run did not; without it (after stage 2) they were at {by['b4']['final']['val_bpb']:.3f} "
          f"(L' = 4) and {by['b16']['final']['val_bpb']:.3f} (L' = 16), "
        + ("and the order holds either way" if ar2 <= by["b4"]["final"]["val_bpb"] <= by["b16"]["final"]["val_bpb"]
           else "where the order does not hold")
        + ". Stage 2 moved the AR model "
          f"little ({by['ar']['final']['val_bpb']:.3f} -> {ar2:.3f}).",
        "",
        CPU_HISTORY + f" The GPU run gave this model {(by['ar']['tokens'] + by[f'b{L}']['tokens'] + by[f'c{L}']['tokens']) / CPU_TOKENS:.0f}x "
        "the training tokens; bits/byte fell by "
        f"{2.685 - ar2:.2f} (AR), {2.998 - b4:.2f} (L' = 4) and {3.133 - b16:.2f} (L' = 16).",
    ]
    return lines


def search_section(tr: Dict, L: int, rows: List[Dict]) -> List[str]:
    lines = [
        "### Noise-interval grid search",
        "",
        "Variance of the per-(sequence, block) NELBO estimate on 64 held-out sequences for each clipped interval "
        "U[beta, omega] (widths 0.5 to 0.9 in steps of 0.05, plus U[1e-3, 1]); the lowest variance is the paper's "
        "criterion. Mean = the estimate's mean (nats/byte) under that interval.",
        "",
        "| model | searched after | lowest variance (var, mean) | next best | paper interval | U[1e-3, 1] |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("b4", "c4", "b16", "c16"):
        r = next(x for x in rows if x["key"] == key)
        s = r["search"]
        if not s:
            continue
        res = sorted(s["results"], key=lambda x: x["var"])
        full = next((x for x in res if abs(x["interval"][0] - 1e-3) < 1e-9 and x["interval"][1] == 1.0), None)
        paper = next((x for x in res if x["interval"] == PAPER_INTERVAL[r["L"]]), None)
        nxt = ", ".join(f"{interval(x['interval'])} {x['var']:.3f}" for x in res[1:3])
        label = f"L' = {r['L']}" + (" (this model)" if key == f"c{L}" else "")
        paper_txt = f"{interval(PAPER_INTERVAL[r['L']])} {paper['var']:.3f}" if paper else "-"
        full_txt = f"{full['var']:.3f}" if full else "-"
        lines.append(f"| {label} | stage {r['stage']} | {interval(res[0]['interval'])} ({res[0]['var']:.3f}, "
                     f"{res[0]['mean']:.3f}) | {nxt} | {paper_txt} | {full_txt} |")
    searched = [x for x in rows if x["key"] in ("b4", "c4", "b16", "c16") and x["search"]]
    bests = {tuple(x["search"]["best"]) for x in searched}
    ratios = []
    for x in searched:
        full = [r["var"] for r in x["search"]["results"] if abs(r["interval"][0] - 1e-3) < 1e-9 and r["interval"][1] == 1.0]
        if full:
            ratios.append(x["search"]["best_var"] / full[0])
    lines.append("")
    if len(bests) == 1:
        lo, hi = next(iter(bests))
        edge = (" It is the narrowest width the grid tries (0.5)" + (" at its upper end (omega = 1)" if hi == 1.0 else "")
                + ", so a narrower interval might be lower still.") if abs((hi - lo) - 0.5) < 1e-9 else ""
        lines.append(f"Every search picks {interval([lo, hi])}.{edge}")
    else:
        lines.append("The searches pick " + ", ".join(sorted(interval(list(b)) for b in bests)) + ".")
    if ratios:
        lines[-1] += (f" The lowest variance is {min(ratios):.2f}-{max(ratios):.2f} x that of U[1e-3, 1] (the "
                      "interval the held-out NELBO is reported with).")
    return lines


def samples_section(tr: Dict, L: int) -> List[str]:
    name = PACKAGES[L]
    m = (tr["measured"].get("packages") or {}).get(name) or {}
    ref = m.get("reference")
    lines = ["## Samples", ""]
    if not ref:
        return lines + ["(no samples recorded: run `bd3lm_toolkit.demo` with the checkpoint)"]
    lines += [
        f"Reference sampler (`bd3lm_toolkit.sampler`: first hitting, one token revealed per forward, top-p "
        f"{ref['top_p']:g}, temperature {ref['temperature']:g}, {ref['max_new_tokens']} new bytes, L' = {L}), run on the "
        f"CPU (torch {ref['torch']}) from the checkpoint; seeds {', '.join(str(s) for s in SAMPLE_SEEDS)} for each prompt. "
        "The text is shown from the start (after BOS), prompt included:",
        "",
    ]
    for prompt in SAMPLE_PROMPTS:
        lines += [f"Prompt {prompt!r}:", ""]
        for s in [x for x in ref["samples"] if x["prompt"] == prompt]:
            lines += [f"- seed {s['seed']} ({s['stop_reason']}, {s['new_tokens']} new bytes):", "",
                      "  ```", *["  " + t for t in s["text"].replace("```", "'''").split("\n")], "  ```", ""]
    lines += ["The sampler draws its noise from the seed alone, so one seed with different prompts can fall into the "
              "same passage after a few blocks.", ""]
    eng = m.get("engine")
    if eng:
        lines += [
            f"The engine (`{eng['command']}`: the TypeScript sampler with its defaults, first hitting, top-p 0.9, "
            f"temperature 1; onnxruntime-node CPU execution provider, {eng.get('dtype', 'float32')} graph) wrote "
            f"{eng['num_tokens']} tokens in {eng['num_blocks']} blocks ({eng['finish_reason']}, {eng['forwards']} "
            f"forwards, {eng['tokens_per_second']:.0f} tokens/s on a shared 2-core machine); prompt + output:",
            "",
            "```",
            (ENGINE_PROMPT + eng["text"]).replace("```", "'''"),
            "```",
            "",
            "The engine draws its noise from its own generator (xoshiro128 per block), not from torch's, so its seed 0 "
            "is not the reference's seed 0; the fixture replay tests check that, given the same noise, the engine "
            "takes the reference's decisions token for token.",
            "",
        ]
    if m.get("verdict"):
        lines += ["Verdict: " + m["verdict"], ""]
    return lines


def parity_lines(tr: Dict, L: int) -> List[str]:
    p = ((tr["measured"].get("packages") or {}).get(PACKAGES[L]) or {}).get("parity")
    if not p:
        return []
    rel = ((tr["measured"].get("packages") or {}).get(PACKAGES[L]) or {}).get("parity_rel")
    what = "logits, `logit_stats` and present K/V" if rel and any("logit_stats" in v for v in rel.values()) else "logits and present K/V"
    line = (f"Parity: ONNX Runtime (onnxruntime-node, CPU) vs the PyTorch checkpoint, max |diff| over all cases and "
            f"outputs of `bd3lm_toolkit.parity` ({what}; with and without `logit_index`): float32 "
            f"{p['float32']:.1e}, float16 {p['float16']:.1e}.")
    if rel:
        parts = [f"{k} float32 {rel['float32'][k]:.1e}, float16 {rel['float16'][k]:.1e}"
                 for k in ("logits", "logit_stats") if k in rel.get("float32", {}) and k in rel.get("float16", {})]
        line += (" Relative (max |diff| / max |PyTorch value|; `logit_stats` against float64 max/logsumexp without "
                 "[MASK]): " + "; ".join(parts) + ".")
    return [line, ""]


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
