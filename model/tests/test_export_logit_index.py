"""The optional `logit_index` graph input (flat [M] indices row * Q + position: logits only for the step positions a
sampler asks for) and the `logit_stats` output ([max, logsumexp] per logits row without the [MASK] column)."""
import json
import os

import numpy as np
import onnx
import pytest

from bd3lm_toolkit.export import export_package
from bd3lm_toolkit.ort_node import node_available, run_cases
from bd3lm_toolkit.parity import (_feeds, all_positions, build_cases, flat_index, logit_index_cases, max_abs, max_rel,
                                  run_parity, subs_stats64)

ROWS_TOL = 1e-5  # gathered logits vs the same rows of the full logits, same graph
needs_node = pytest.mark.skipif(node_available() is not None, reason=str(node_available()))


@pytest.fixture(scope="module")
def package(tmp_path_factory, small_model):
    out = str(tmp_path_factory.mktemp("pkg-li") / "small-li")
    export_package(small_model, out, name="small-li")
    return out


@pytest.fixture(scope="module")
def package_without(tmp_path_factory, small_model):
    out = str(tmp_path_factory.mktemp("pkg-noli") / "small-noli")
    export_package(small_model, out, name="small-noli", dtypes=("float32",), logit_index=False)
    return out


STATS_REL_FP32 = 1e-5  # logit_stats vs float64 max/logsumexp of the PyTorch logits, relative
STATS_REL_FP16 = 5e-3  # float16 weights and K/V: as loose as the logits themselves


def test_flat_index_is_row_major():
    assert flat_index([[3, 1, 2], [5], []], 8).tolist() == [3, 1, 2, 13]
    assert flat_index([[], [0]], 4).tolist() == [4]
    assert all_positions(2, 3).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        flat_index([[], []], 4)


def test_subs_stats64_leaves_the_mask_column_out():
    z = np.array([[1.0, 2.0, 50.0], [0.0, 0.0, -3.0]])
    st = subs_stats64(z, 2)
    assert st[:, 0].tolist() == [2.0, 0.0]
    assert np.allclose(st[:, 1], [np.log(np.exp(1.0) + np.exp(2.0)), np.log(2.0)], rtol=0, atol=1e-15)


def test_cases_ask_for_masked_positions_only(small_model):
    cfg = small_model.config
    cases = build_cases(small_model)
    by = {c["name"]: c for c in cases}
    for x in logit_index_cases(cases, cfg.mask_id, cfg.block_size):
        ids = by[x["base"]]["inputs"][0]
        B, Q = ids.shape
        idx = x["index"]
        assert idx.ndim == 1 and len(idx) >= 1 and idx.min() >= 0 and idx.max() < B * Q
        for i in idx[x["real"]]:
            assert int(ids.reshape(-1)[i]) == cfg.mask_id
        assert x["real"].tolist() == [i // Q < (2 if x["base"] == "ragged_batch" else B) for i in idx]
        if x["base"] == "folded_commit":
            assert (idx % Q).min() >= cfg.block_size  # the clean half never needs logits
    shuffled = [x["index"] for x in logit_index_cases(cases, cfg.mask_id, cfg.block_size) if x["name"] == "li_ragged_shuffled"][0]
    assert len(set(shuffled.tolist())) < len(shuffled) and sorted(shuffled.tolist()) != shuffled.tolist()


def test_graph_without_logit_index_keeps_the_old_signature(package_without):
    man = json.load(open(os.path.join(package_without, "manifest.json")))
    assert "logit_index" not in man["io"]["inputs"]
    g = onnx.load(os.path.join(package_without, "model.onnx")).graph
    assert [i.name for i in g.input] == ["input_ids", "position_ids", "past_key", "past_value", "attention_mask"]
    assert [o.name for o in g.output] == ["logits", "present_key", "present_value", "logit_stats"]
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
    assert dims["logits"] == ["batch", "step", 258] and dims["logit_stats"] == ["batch", "step", 2]
    assert man["io"]["outputs"]["logit_stats"] == "logit_stats"


@needs_node
def test_gathered_logits_equal_the_full_rows(package, small_model, capsys):
    rep = run_parity(package, small_model)
    li = {dt: {k: v for k, v in r.items() if k.startswith("li_")} for dt, r in rep.items()}
    with capsys.disabled():
        worst = {dt: max(c["vs_full_rows"] for c in r.values()) for dt, r in li.items()}
        print(f"\n[logit_index] max |gathered - full rows|: {json.dumps(worst)}")
    assert set(li) == {"float32", "float16"}
    for dt, r in li.items():
        assert set(r) == {"li_past0_one", "li_past0_masked", "li_ragged_batch", "li_ragged_one", "li_ragged_shuffled",
                          "li_folded_step", "li_folded_one"}
        for name, c in r.items():
            assert c["vs_full_rows"] <= ROWS_TOL, f"{dt} {name}: {c['vs_full_rows']}"
            assert c["stats_vs_full_rows"] <= ROWS_TOL, f"{dt} {name}: {c['stats_vs_full_rows']}"
    for name, c in li["float32"].items():
        assert c["logits"] <= 1e-4, f"float32 {name} vs PyTorch: {c['logits']}"


@needs_node
def test_flat_index_picks_the_all_positions_rows(package, small_model):
    """A flat logit_index (rows out of order, duplicates, rows of a batch asking for different counts) gives exactly
    the rows of the all-positions logits and logit_stats that it names, in its order."""
    c = [c for c in build_cases(small_model) if c["name"] == "ragged_batch"][0]
    B, Q = c["inputs"][0].shape
    picks = [np.array([Q + 2, 0, Q + 2, B * Q - 1, 3, 0, Q + 1, Q + 1], dtype=np.int64), np.array([B * Q - 1], dtype=np.int64),
             np.arange(B * Q, dtype=np.int64)[::-1].copy()]
    for dt in ("float32", "float16"):
        path = os.path.join(package, "model.fp16.onnx" if dt == "float16" else "model.onnx")
        feeds = [_feeds(*c["inputs"], dt, all_positions(B, Q))] + [_feeds(*c["inputs"], dt, p) for p in picks]
        full, *outs = run_cases(path, feeds)
        assert full["logits"].shape == (B * Q, 258) and full["logit_stats"].shape == (B * Q, 2)
        for p, o in zip(picks, outs):
            assert o["logits"].shape == (len(p), 258) and o["logit_stats"].shape == (len(p), 2)
            assert float(np.abs(o["logits"] - full["logits"][p]).max()) <= ROWS_TOL, (dt, p)
            assert float(np.abs(o["logit_stats"] - full["logit_stats"][p]).max()) <= ROWS_TOL, (dt, p)
            for i in range(len(p)):  # duplicates give identical rows
                for j in range(len(p)):
                    if p[i] == p[j]:
                        assert np.array_equal(o["logits"][i], o["logits"][j])


@needs_node
def test_logit_stats_are_max_and_logsumexp_without_the_mask(package, small_model, capsys):
    """logit_stats vs max / logsumexp over v != [MASK], in float64 from the PyTorch logits, in every parity case."""
    rep = run_parity(package, small_model)
    with capsys.disabled():
        worst = {dt: max(c["logit_stats_rel"] for c in r.values()) for dt, r in rep.items()}
        print(f"\n[logit_stats] max relative diff vs PyTorch float64: {json.dumps(worst)}")
    for dt, tol in (("float32", STATS_REL_FP32), ("float16", STATS_REL_FP16)):
        for name, c in rep[dt].items():
            assert c["logit_stats_rel"] <= tol, f"{dt} {name}: {c['logit_stats_rel']}"
            assert c["stats_vs_own_logits"] <= 1e-5, f"{dt} {name}: {c['stats_vs_own_logits']}"  # same float32 logits
    # directly, on one case: the [MASK] column would dominate the max if it were not excluded
    cfg = small_model.config
    c = [c for c in build_cases(small_model) if c["name"] == "past0"][0]
    f = _feeds(*c["inputs"], "float32", np.array([0, 2, 1], dtype=np.int64))
    o = run_cases(os.path.join(package, "model.onnx"), [f])[0]
    want = subs_stats64(c["expect"]["logits"].numpy().reshape(-1, cfg.vocab_size)[[0, 2, 1]], cfg.mask_id)
    assert np.allclose(o["logit_stats"], want, rtol=STATS_REL_FP32, atol=0)
    z = o["logits"].astype(np.float64)
    assert np.array_equal(o["logit_stats"][:, 0], np.delete(o["logits"], cfg.mask_id, axis=1).max(axis=1))
    assert not np.allclose(o["logit_stats"][:, 1], np.log(np.exp(z).sum(axis=1)), rtol=1e-6, atol=0)  # mask excluded


@needs_node
def test_all_positions_give_the_graph_without_logit_index(package, package_without, small_model):
    """Asking for every position reproduces the full-logits graph of the same weights."""
    cases = build_cases(small_model)
    feeds = [_feeds(*c["inputs"], "float32") for c in cases]
    old = run_cases(os.path.join(package_without, "model.onnx"), feeds)
    new = run_cases(os.path.join(package, "model.onnx"),
                    [dict(f, logit_index=all_positions(*f["input_ids"].shape)) for f in feeds])
    for c, a, b in zip(cases, old, new):
        B, Q = c["inputs"][0].shape
        assert a["logits"].shape == (B, Q, 258) and b["logits"].shape == (B * Q, 258)
        assert a["logit_stats"].shape == (B, Q, 2) and b["logit_stats"].shape == (B * Q, 2)
        assert float(np.abs(a["logits"].reshape(B * Q, -1) - b["logits"]).max()) <= ROWS_TOL, c["name"]
        assert float(np.abs(a["logit_stats"].reshape(B * Q, -1) - b["logit_stats"]).max()) <= ROWS_TOL, c["name"]
        assert float(np.abs(a["present_key"] - b["present_key"]).max()) <= ROWS_TOL, c["name"]


@needs_node
def test_parity_of_a_package_without_logit_index(package_without, small_model):
    rep = run_parity(package_without, small_model)
    assert not any(k.startswith("li_") for k in rep["float32"])
    assert all("logit_stats" in c for c in rep["float32"].values())
    assert max_abs(rep)["float32"] <= 1e-4
    assert max_rel(rep)["float32"]["logit_stats"] <= STATS_REL_FP32
