import json
import os

import onnx
import pytest
import torch

from bd3lm_toolkit.export import export_package
from bd3lm_toolkit.ort_node import node_available
from bd3lm_toolkit.parity import block_causal, build_cases, history_kv, max_abs, max_rel, run_parity

FP32_TOL = 1e-4
FP16_TOL = 5e-2  # float16 weights and K/V, float32 compute; measured ~1e-3 on the small test model


@pytest.fixture(scope="module")
def package(tmp_path_factory, small_model):
    out = str(tmp_path_factory.mktemp("pkg") / "small-test")
    export_package(small_model, out, name="small-test")
    return out


def test_manifest_matches_contract(package, small_model):
    man = json.load(open(os.path.join(package, "manifest.json")))
    cfg = small_model.config
    assert set(man) == {"format", "format_version", "name", "architecture", "vocab_size", "mask_token_id", "bos_token_id",
                        "eos_token_id", "tokenizer", "block_size", "context_length", "rotary_base", "graphs", "io"}
    assert man["format"] == "bd3lm-onnx" and man["format_version"] == 1
    assert man["architecture"] == {"num_layers": 2, "hidden_size": 64, "num_heads": 4, "head_dim": 16, "mlp_hidden_size": 256}
    assert (man["vocab_size"], man["mask_token_id"], man["bos_token_id"], man["eos_token_id"]) == (258, 257, 256, 256)
    assert man["tokenizer"] == {"kind": "bytes"} and man["block_size"] == 4 and man["context_length"] == 32
    assert [g["dtype"] for g in man["graphs"]] == ["float32", "float16"]
    import hashlib
    for g in man["graphs"]:
        raw = open(os.path.join(package, g["file"]), "rb").read()
        assert g["bytes"] == len(raw) and g["sha256"] == hashlib.sha256(raw).hexdigest()
    assert man["io"]["inputs"] == {k: k for k in ["input_ids", "position_ids", "past_key", "past_value", "attention_mask",
                                                  "logit_index"]}
    assert man["io"]["outputs"] == {k: k for k in ["logits", "present_key", "present_value", "logit_stats"]}
    assert os.path.isfile(os.path.join(package, "README.md"))


def _io(path):
    m = onnx.load(path)
    def desc(vs):
        out = {}
        for v in vs:
            t = v.type.tensor_type
            out[v.name] = (onnx.TensorProto.DataType.Name(t.elem_type),
                           [d.dim_param or d.dim_value for d in t.shape.dim])
        return out
    return m, desc(m.graph.input), desc(m.graph.output)


def test_graph_io_signature(package):
    m, ins, outs = _io(os.path.join(package, "model.onnx"))
    assert m.opset_import[0].version == 17
    assert ins == {
        "input_ids": ("INT64", ["batch", "step"]),
        "position_ids": ("INT64", ["batch", "step"]),
        "past_key": ("FLOAT", [2, "batch", 4, "past", 16]),
        "past_value": ("FLOAT", [2, "batch", 4, "past", 16]),
        "attention_mask": ("BOOL", ["batch", "step", "total"]),
        "logit_index": ("INT64", ["num_logits"]),
    }
    assert [o.name for o in m.graph.output] == ["logits", "present_key", "present_value", "logit_stats"]
    assert outs["logits"] == ("FLOAT", ["num_logits", 258])
    assert outs["logit_stats"] == ("FLOAT", ["num_logits", 2])
    assert outs["present_key"][0] == "FLOAT" and outs["present_key"][1][1] == "batch"
    m16, ins16, outs16 = _io(os.path.join(package, "model.fp16.onnx"))
    assert ins16["past_key"][0] == "FLOAT16" and outs16["present_value"][0] == "FLOAT16" and outs16["logits"][0] == "FLOAT"
    assert outs16["logit_stats"] == ("FLOAT", ["num_logits", 2]) and ins16["logit_index"] == ("INT64", ["num_logits"])
    # no sigma_map / adaLN in the graph, and no duplicated weights
    names = " ".join(i.name for i in m.graph.initializer)
    assert "sigma_map" not in names and "adaLN" not in names
    n_floats = sum(int(torch.tensor(list(i.dims)).prod()) for i in m.graph.initializer if i.data_type == 1)
    assert n_floats < 1.05 * (258 * 64 * 2 + 258 + 2 * (4 * 64 * 64 + 2 * 64 * 256 + 256 + 5 * 64) + 2 * 64 + 8)
    assert os.path.getsize(os.path.join(package, "model.fp16.onnx")) < 0.6 * os.path.getsize(os.path.join(package, "model.onnx"))


def test_graph_has_one_fastgelu_and_one_rotary_per_layer(package, small_model):
    """The launch-count folds: the MLP's bias + GELU is one contrib FastGelu (no spelled-out tanh), q and k share
    one rotary (one Neg per layer), and no separate multiply scales the queries."""
    for graph in ("model.onnx", "model.fp16.onnx"):
        m = onnx.load(os.path.join(package, graph))
        ops = [(n.domain, n.op_type) for n in m.graph.node]
        layers = small_model.config.n_blocks
        assert ops.count(("com.microsoft", "FastGelu")) == layers
        assert ("", "Tanh") not in ops
        assert ops.count(("", "Neg")) == layers
        assert {(o.domain, o.version) for o in m.opset_import} >= {("", 17), ("com.microsoft", 1)}


def test_step_matches_training_pass(small_model):
    """The KV-cached step on x_t block b with the clean blocks < b as past equals the training pass's x_t logits."""
    torch.manual_seed(5)
    L = small_model.config.block_size
    x0 = torch.randint(0, 256, (1, 32))
    xt = x0.clone()
    xt[torch.rand(1, 32) < 0.5] = 257
    with torch.no_grad():
        full = small_model.backbone.forward_train(xt, x0, L)
        pk, pv = history_kv(small_model, x0)
        for b in range(32 // L):
            P = b * L
            lg, _, _ = small_model.step(xt[:, P:P + L], torch.arange(P, P + L)[None], pk[:, :, :, :P], pv[:, :, :, :P])
            assert (lg - full[:, P:P + L]).abs().max() < 1e-5


def test_folded_step_equals_commit_then_step_in_pytorch(small_model):
    case = [c for c in build_cases(small_model) if c["name"] == "folded_commit"][0]
    L = small_model.config.block_size
    (_, ck, cv), (sep_logits, _, _) = case["rows"]
    assert (case["expect"]["logits"][:, L:] - sep_logits).abs().max() < 1e-5
    assert (case["expect"]["present_key"][:, :, :, :L] - ck).abs().max() < 1e-5


@pytest.mark.skipif(node_available() is not None, reason=str(node_available()))
def test_ort_parity(package, small_model, capsys):
    rep = run_parity(package, small_model)
    with capsys.disabled():
        print(f"\n[parity] max |ORT - PyTorch|: {json.dumps(max_abs(rep))}; relative: {json.dumps(max_rel(rep))}")
    for dt, tol in (("float32", FP32_TOL), ("float16", FP16_TOL)):
        for name, r in rep[dt].items():
            assert {"logits", "logit_stats", "logits_rel", "logit_stats_rel"} <= set(r), f"{dt} {name}"
            for k, v in r.items():
                if k != "ms" and not k.endswith("_rel"):
                    assert v <= tol, f"{dt} {name} {k}: {v}"
    assert max_rel(rep)["float32"]["logit_stats"] <= 1e-5
    assert set(rep["float32"]) == {"past0", "past1block", "full_context", "beyond_context", "ragged_batch", "folded_commit",
                                   "li_past0_one", "li_past0_masked", "li_ragged_batch", "li_ragged_one", "li_ragged_shuffled",
                                   "li_folded_step", "li_folded_one"}


@pytest.mark.skipif(node_available() is not None, reason=str(node_available()))
def test_ort_parity_gpt2_vocab_shape(tmp_path):
    """A wide-vocabulary (GPT-2 tokenizer kind) model: the exporter handles vocab 50258 and the manifest says gpt2."""
    from bd3lm_toolkit.config import released_config
    from bd3lm_toolkit.dit import BD3LM, init_weights
    cfg = released_config(4).replace(n_blocks=1, hidden_dim=32, n_heads=2, model_length=16)
    m = init_weights(BD3LM(cfg), seed=0).eval()
    out = str(tmp_path / "gpt2-tiny")
    man = export_package(m, out, dtypes=("float32",))
    assert man["tokenizer"] == {"kind": "gpt2"} and man["mask_token_id"] == 50257 and man["bos_token_id"] == 50256
    rep = run_parity(out, m)
    assert max_abs(rep)["float32"] <= FP32_TOL
    assert max_rel(rep)["float32"]["logit_stats"] <= 1e-5


TSX = os.path.join(os.path.dirname(__file__), "..", "..", "node_modules", ".bin", "tsx")


@pytest.mark.skipif(not os.path.exists(TSX), reason="tsx not installed (npm ci)")
def test_manifests_pass_the_typescript_schema(package):
    import glob
    import subprocess
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    paths = [os.path.join(package, "manifest.json")] + sorted(glob.glob(os.path.join(repo, "models", "*", "manifest.json")))
    proc = subprocess.run([TSX, os.path.join(repo, "model", "parity", "check_manifest.ts"), *paths], capture_output=True,
                          text=True, timeout=300, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
