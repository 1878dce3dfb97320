"""The operator's path of docs/real-models.md after the download, on a local checkpoint in the official HF layout:
`checkpoint random --shape released-small` (the released layout and GPT-2 vocabulary, 2 x 64) -> `checkpoint info`
-> `model:export --dtypes float32,float16` -> `parity` -> the worker's engine (gpu-worker/src/cli/generate.ts:
the package loader and createEngine the worker uses) generating blocks from each graph; and a manifest edited
to disagree with its graph refused at load. Every step is the documented command line, run as a subprocess."""
import json
import os
import shutil
import subprocess

import pytest

from bd3lm_toolkit.ort_node import node_available

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = ["bash", os.path.join(REPO, "model", "scripts", "python.sh")]
TSX = os.path.join(REPO, "node_modules", ".bin", "tsx")
GENERATE = os.path.join(REPO, "gpu-worker", "src", "cli", "generate.ts")
BLOCK = 4
FP32_TOL, FP16_TOL = 1e-4, 5e-2  # the bounds test_export_parity.py holds every export to

pytestmark = [
    pytest.mark.skipif(node_available() is not None, reason=str(node_available())),
    pytest.mark.skipif(not os.path.exists(TSX), reason="tsx not installed (npm ci)"),
]


def run(cmd, timeout=300):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS="2"))
    return proc


def ok(cmd):
    proc = run(cmd)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-path")
    ckpt, pkg = str(root / "bd3lm-owt-block_size4"), str(root / "pkg")
    ok(PYTHON + ["-m", "bd3lm_toolkit.checkpoint", "random", "--shape", "released-small", "--block-size", str(BLOCK),
                 "--out", ckpt])
    ok(PYTHON + ["-m", "bd3lm_toolkit.export", "--from", ckpt, "--out", pkg, "--dtypes", "float32,float16",
                 "--name", "bd3lm-owt-b4-small"])
    return ckpt, pkg


def test_checkpoint_is_in_the_released_layout(exported):
    ckpt, _ = exported
    assert sorted(os.listdir(ckpt)) == ["config.json", "model.safetensors"]
    info = json.loads(ok(PYTHON + ["-m", "bd3lm_toolkit.checkpoint", "info", ckpt]))
    cfg = info["config"]
    assert (cfg["vocab_size"], cfg["cond_dim"], cfg["n_blocks"], cfg["hidden_dim"], cfg["block_size"]) == (50258, 128, 2, 64, 4)
    assert "tokenizer_kind" not in cfg  # like the released config.json: GPT-2 follows from vocab_size 50258


def test_manifest_says_gpt2_and_both_graphs(exported):
    _, pkg = exported
    man = json.load(open(os.path.join(pkg, "manifest.json")))
    assert man["tokenizer"] == {"kind": "gpt2"}
    assert (man["vocab_size"], man["mask_token_id"], man["bos_token_id"]) == (50258, 50257, 50256)
    assert [g["dtype"] for g in man["graphs"]] == ["float32", "float16"]
    assert man["architecture"] == {"num_layers": 2, "hidden_size": 64, "num_heads": 2, "head_dim": 32, "mlp_hidden_size": 256}


def test_parity_command(exported, capsys):
    ckpt, pkg = exported
    rep = json.loads(ok(PYTHON + ["-m", "bd3lm_toolkit.parity", "--package", pkg, "--ckpt", ckpt]))
    with capsys.disabled():
        print(f"\n[released-small parity] max abs: {json.dumps(rep['max_abs_diff'])}; rel: {json.dumps(rep['max_rel_diff'])}")
    assert rep["max_abs_diff"]["float32"] <= FP32_TOL
    assert rep["max_abs_diff"]["float16"] <= FP16_TOL


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_engine_generates_blocks(exported, dtype):
    _, pkg = exported
    out = ok([TSX, GENERATE, "--model", pkg, "--prompt", "In the beginning", "--max-tokens", str(3 * BLOCK),
              "--seed", "3", "--dtype", dtype, "--threads", "1", "--json"])
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["num_tokens"], result["num_blocks"], result["finish_reason"]) == (3 * BLOCK, 3, "max_tokens")
    assert result["text"]  # GPT-2 tokens decoded (random weights: no meaningful text)


def test_engine_refuses_a_manifest_that_does_not_match_its_graph(exported, tmp_path):
    _, pkg = exported
    bad = str(tmp_path / "bad")
    shutil.copytree(pkg, bad)
    path = os.path.join(bad, "manifest.json")
    man = json.load(open(path))
    man["architecture"].update(num_layers=12)  # a manifest copied from the released shape
    json.dump(man, open(path, "w"))
    proc = run([TSX, GENERATE, "--model", bad, "--prompt", "x", "--max-tokens", "4", "--dtype", "float16"])
    assert proc.returncode == 1
    assert 'model.fp16.onnx: manifest field "architecture.num_layers" is 12, the graph\'s past_key has 2 layers' in proc.stderr
