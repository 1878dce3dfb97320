"""Running the parity cases through ONNX Runtime (onnxruntime-node, via `ort_node`) and comparing with PyTorch:
`run_parity` builds the report {dtype: {case: {check: value}}}, `max_abs` / `max_rel` summarize it."""
from __future__ import annotations

import json
import os
from typing import Dict

import numpy as np

from .dit import BD3LM
from .parity_cases import build_cases
from .parity_index import _feeds, all_positions, logit_index_cases, subs_stats64


def _max(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def _rel(a, b) -> float:
    """max |a - b| / max |b| (b the reference)."""
    return _max(a, b) / max(float(np.abs(np.asarray(b, dtype=np.float64)).max()), 1e-30)


def _compare(r: Dict[str, float], key: str, got, want) -> None:
    r[key] = _max(got, want)
    if key in ("logits", "logit_stats"):
        r[key + "_rel"] = _rel(got, want)


def max_abs(report: Dict[str, Dict[str, Dict[str, float]]]) -> Dict[str, float]:
    """{dtype: max |diff| over every case and check} (relative checks and run times left out)."""
    return {dt: max(v for case in r.values() for k, v in case.items() if k != "ms" and not k.endswith("_rel"))
            for dt, r in report.items()}


def max_rel(report: Dict[str, Dict[str, Dict[str, float]]]) -> Dict[str, Dict[str, float]]:
    """{dtype: {logits|logit_stats: max relative diff vs PyTorch over every case}}."""
    out: Dict[str, Dict[str, float]] = {}
    for dt, r in report.items():
        for k in ("logits", "logit_stats"):
            vals = [case[k + "_rel"] for case in r.values() if k + "_rel" in case]
            if vals:
                out.setdefault(dt, {})[k] = max(vals)
    return out


def run_parity(package_dir: str, model: BD3LM, dtypes=None, seed: int = 0) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Returns {dtype: {case: {check: value}}} (see the module docstring); raises if any output is not finite
    or has the wrong shape or dtype."""
    from .ort_node import run_cases

    man = json.load(open(os.path.join(package_dir, "manifest.json")))
    has_index = "logit_index" in man["io"]["inputs"]
    has_stats = "logit_stats" in man["io"]["outputs"]
    cfg = model.config
    V, M = cfg.vocab_size, cfg.mask_id
    cases = build_cases(model, seed)
    extra = logit_index_cases(cases, M, cfg.block_size) if has_index else []
    by = {c["name"]: c for c in cases}
    report: Dict[str, Dict[str, Dict[str, float]]] = {}
    L = cfg.block_size
    for gph in man["graphs"]:
        dt = gph["dtype"]
        if dtypes and dt not in dtypes:
            continue
        feeds = []
        for c in cases:
            ids = c["inputs"][0]
            feeds.append(_feeds(*c["inputs"], dt, all_positions(*ids.shape) if has_index else None))
        for x in extra:
            feeds.append(_feeds(*by[x["base"]]["inputs"], dt, x["index"]))
        outs = run_cases(os.path.join(package_dir, gph["file"]), feeds)
        for o in outs:
            for k in ("logits", "logit_stats"):
                if k in o and o[k].dtype != np.float32:
                    raise AssertionError(f"{dt}: {k} dtype {o[k].dtype}, expected float32")
            if has_stats and "logit_stats" not in o:
                raise AssertionError(f"{dt}: the manifest declares logit_stats, the graph does not return it")
        rep, li_rep = {}, {}
        for c, o in zip(cases, outs):
            B, Q = c["inputs"][0].shape
            want_shape = {"logits": (B * Q, V) if has_index else (B, Q, V), "logit_stats": (B * Q, 2) if has_index else (B, Q, 2)}
            for k, shp in want_shape.items():
                if k in o:
                    if tuple(o[k].shape) != shp:
                        raise AssertionError(f"{dt} {c['name']}: {k} {tuple(o[k].shape)}, expected {shp}")
                    o[k] = o[k].reshape(B, Q, -1)
        full = {c["name"]: o for c, o in zip(cases, outs)}
        for x, o in zip(extra, outs[len(cases):]):
            idx, real = x["index"], x["real"]
            got = o["logits"]
            if got.shape != (len(idx), V) or not np.all(np.isfinite(got)):
                raise AssertionError(f"{dt} {x['name']}: logits {got.shape}, expected {(len(idx), V)}, finite")
            want_ort = full[x["base"]]["logits"].reshape(-1, V)[idx]
            want_pt = by[x["base"]]["expect"]["logits"].numpy().reshape(-1, V)[idx]
            r = {"ms": round(o["__ms"], 3), "vs_full_rows": _max(got, want_ort)}
            _compare(r, "logits", got[real], want_pt[real])
            if has_stats:
                st = o["logit_stats"]
                if st.shape != (len(idx), 2) or not np.all(np.isfinite(st)):
                    raise AssertionError(f"{dt} {x['name']}: logit_stats {st.shape}, expected {(len(idx), 2)}, finite")
                r["stats_vs_full_rows"] = _max(st, full[x["base"]]["logit_stats"].reshape(-1, 2)[idx])
                _compare(r, "logit_stats", st[real], subs_stats64(want_pt[real], M))
                r["stats_vs_own_logits"] = _max(st, subs_stats64(got, M))
            li_rep[x["name"]] = r
        for c, o in zip(cases, outs):
            for k in ("logits", "present_key", "present_value") + (("logit_stats",) if has_stats else ()):
                if not np.all(np.isfinite(o[k].astype(np.float32))):
                    raise AssertionError(f"{dt} {c['name']}: non-finite {k}")
            r = {"ms": round(o["__ms"], 3)}
            ex = c["expect"]
            rows = slice(None)
            if c["name"] == "ragged_batch":
                # rows 0/1 vs PyTorch batch and vs each sequence alone; row 2 is padding (finite only)
                rows = slice(0, 2)
                _compare(r, "logits", o["logits"][:2], ex["logits"][:2])
                r["present_key"] = _max(o["present_key"][:, :2], ex["present_key"][:, :2])
                r["present_value"] = _max(o["present_value"][:, :2], ex["present_value"][:, :2])
                r["rows_vs_alone"] = max(_max(o["logits"][i], c["rows"][i][0][0]) for i in range(2))
            elif c["name"] == "folded_commit":
                for k in ("logits", "present_key", "present_value"):
                    _compare(r, k, o[k], ex[k])
                ck, cv = c["rows"][0][1], c["rows"][0][2]
                r["commit_kv_vs_separate"] = max(_max(o["present_key"][:, :, :, :L], ck), _max(o["present_value"][:, :, :, :L], cv))
                r["step_logits_vs_separate"] = _max(o["logits"][:, L:], c["rows"][1][0])
            else:
                for k in ("logits", "present_key", "present_value"):
                    _compare(r, k, o[k], ex[k])
            if has_stats:
                _compare(r, "logit_stats", o["logit_stats"][rows], subs_stats64(ex["logits"].numpy()[rows], M))
                r["stats_vs_own_logits"] = _max(o["logit_stats"], subs_stats64(o["logits"], M))
            rep[c["name"]] = r
        report[dt] = {**rep, **li_rep}
    return report
