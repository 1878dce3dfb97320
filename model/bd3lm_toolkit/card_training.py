"""The card's training sections: "Recipe" (hardware, stages, noise interval, token totals), "Held-out results"
(bits/byte per stage and the paper's order check) and "Noise-interval grid search"."""
from __future__ import annotations

from typing import Dict, List

from .card_data import CPU_HISTORY, CPU_TOKENS, PACKAGES, PAPER_INTERVAL, RUN_NOTES
from .card_format import interval, lr_text, mtok


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
