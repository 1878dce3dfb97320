"""The optional `logit_index` graph input: logits only for the step positions a sampler asks for."""
import json
import os

import numpy as np
import onnx
import pytest

from bd3lm_toolkit.export import export_package
from bd3lm_toolkit.ort_node import node_available, run_cases
from bd3lm_toolkit.parity import _feeds, all_positions, build_cases, logit_index_cases, padded_index, run_parity

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


def test_padded_index_repeats_a_valid_index():
    assert padded_index([[3, 1, 2], [5], []]).tolist() == [[3, 1, 2], [5, 5, 5], [0, 0, 0]]
    assert padded_index([[], []]).tolist() == [[0], [0]]


def test_cases_ask_for_masked_positions_only(small_model):
    cfg = small_model.config
    cases = build_cases(small_model)
    by = {c["name"]: c for c in cases}
    for x in logit_index_cases(cases, cfg.mask_id, cfg.block_size):
        ids = by[x["base"]]["inputs"][0]
        assert x["index"].shape[0] == ids.shape[0] and x["index"].shape[1] >= 1
        for row in range(2 if x["base"] == "ragged_batch" else ids.shape[0]):
            assert all(int(ids[row, j]) == cfg.mask_id for j in x["index"][row])
        if x["base"] == "folded_commit":
            assert x["index"].min() >= cfg.block_size  # the clean half never needs logits


def test_graph_without_logit_index_keeps_the_old_signature(package_without):
    man = json.load(open(os.path.join(package_without, "manifest.json")))
    assert "logit_index" not in man["io"]["inputs"]
    g = onnx.load(os.path.join(package_without, "model.onnx")).graph
    assert [i.name for i in g.input] == ["input_ids", "position_ids", "past_key", "past_value", "attention_mask"]
    logits = [o for o in g.output if o.name == "logits"][0]
    assert [d.dim_param or d.dim_value for d in logits.type.tensor_type.shape.dim] == ["batch", "step", 258]


@needs_node
def test_gathered_logits_equal_the_full_rows(package, small_model, capsys):
    rep = run_parity(package, small_model)
    li = {dt: {k: v for k, v in r.items() if k.startswith("li_")} for dt, r in rep.items()}
    with capsys.disabled():
        worst = {dt: max(c["vs_full_rows"] for c in r.values()) for dt, r in li.items()}
        print(f"\n[logit_index] max |gathered - full rows|: {json.dumps(worst)}")
    assert set(li) == {"float32", "float16"}
    for dt, r in li.items():
        assert set(r) == {"li_past0_one", "li_past0_masked", "li_ragged_batch", "li_ragged_one", "li_folded_step",
                          "li_folded_one"}
        for name, c in r.items():
            assert c["vs_full_rows"] <= ROWS_TOL, f"{dt} {name}: {c['vs_full_rows']}"
    for name, c in li["float32"].items():
        assert c["logits"] <= 1e-4, f"float32 {name} vs PyTorch: {c['logits']}"


@needs_node
def test_all_positions_give_the_graph_without_logit_index(package, package_without, small_model):
    """Asking for every position reproduces the full-logits graph of the same weights."""
    cases = build_cases(small_model)
    feeds = [_feeds(*c["inputs"], "float32") for c in cases]
    old = run_cases(os.path.join(package_without, "model.onnx"), feeds)
    new = run_cases(os.path.join(package, "model.onnx"),
                    [dict(f, logit_index=all_positions(*f["input_ids"].shape)) for f in feeds])
    for c, a, b in zip(cases, old, new):
        assert a["logits"].shape == b["logits"].shape
        assert float(np.abs(a["logits"] - b["logits"]).max()) <= ROWS_TOL, c["name"]
        assert float(np.abs(a["present_key"] - b["present_key"]).max()) <= ROWS_TOL, c["name"]


@needs_node
def test_parity_of_a_package_without_logit_index(package_without, small_model):
    rep = run_parity(package_without, small_model)
    assert not any(k.startswith("li_") for k in rep["float32"])
    assert max(v for c in rep["float32"].values() for k, v in c.items() if k != "ms") <= 1e-4
