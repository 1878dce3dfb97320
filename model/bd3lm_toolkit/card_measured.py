"""The card's parts measured from the checkpoints (`measured.json`, written by `demo.py`): the "Samples" section
(reference sampler and engine output) and the ORT parity line."""
from __future__ import annotations

from typing import Dict, List

from .card_data import ENGINE_PROMPT, PACKAGES, SAMPLE_PROMPTS, SAMPLE_SEEDS


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
