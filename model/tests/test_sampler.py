import glob
import json
import os
import subprocess

import pytest
import torch

from bd3lm_toolkit.checkpoint import load_checkpoint
from bd3lm_toolkit.ort_node import REPO, node_available
from bd3lm_toolkit.sampler import ReferenceSampler, SamplerOptions, b64_f32, make_fixture, nucleus, replay_fixture

TINY_CKPT = os.path.join(REPO, "model", "fixtures", "tiny-random-b4.ckpt")
FIXTURES = sorted(glob.glob(os.path.join(REPO, "models", "*", "fixtures", "sampler-*.json")))


def test_nucleus_keeps_cumulative_top_p():
    p = torch.tensor([[0.05, 0.5, 0.3, 0.15, 0.0]], dtype=torch.float64)
    q, kept = nucleus(p, 0.8)
    assert kept.tolist() == [2] and torch.allclose(q, torch.tensor([[0, 0.625, 0.375, 0, 0]], dtype=torch.float64))
    q, kept = nucleus(torch.tensor([[0.95, 0.05]], dtype=torch.float64), 0.9)
    assert kept.tolist() == [1]  # the first token is always kept
    q, kept = nucleus(p, 1.0)
    assert torch.equal(q, p)


def test_committed_fixtures_size_and_shape():
    assert FIXTURES, "no committed fixtures"
    total = sum(os.path.getsize(f) for f in FIXTURES)
    assert total < 3_000_000, total
    for f in FIXTURES:
        fx = json.load(open(f))
        assert fx["format"] == "bd3lm-sampler-fixture" and fx["version"] == 1
        assert os.path.isfile(os.path.join(REPO, fx["package"], "manifest.json")), fx["package"]
        L, V = fx["block_size"], fx["vocab_size"]
        for b in fx["blocks"]:
            assert b["start_position"] == b["index"] * L
            assert b["past_length"] <= fx["context_length"] - L
            assert len(b["steps"]) == L - b["prompt_tokens"]
            for s in b["steps"]:
                assert b64_f32(s["noise"], (L, V)).min() > 0
            assert b["tokens"][:b["prompt_tokens"]] == fx["prompt_ids"][b["index"] * L:b["index"] * L + b["prompt_tokens"]]
        assert fx["final_tokens"][:len(fx["prompt_ids"])] == fx["prompt_ids"]


@pytest.mark.parametrize("name", ["sampler-cross-context.json", "sampler-eos.json", "sampler-partial-prompt.json"])
def test_tiny_fixture_replays_in_pytorch(name):
    fx = json.load(open(os.path.join(REPO, "models", "tiny-random-b4", "fixtures", name)))
    model = load_checkpoint(TINY_CKPT)
    res = replay_fixture(model, fx)
    assert res["tokens"] == fx["final_tokens"] and res["stop_reason"] == fx["stop_reason"]
    assert [b["tokens"] for b in res["blocks"]] == [b["tokens"] for b in fx["blocks"]]


def test_cross_context_fixture_slides_window():
    fx = json.load(open(os.path.join(REPO, "models", "tiny-random-b4", "fixtures", "sampler-cross-context.json")))
    W, L = fx["context_length"], fx["block_size"]
    assert max(b["start_position"] + L for b in fx["blocks"]) > W
    assert [b["past_length"] for b in fx["blocks"]][-1] == W - L


def test_sampler_is_seeded_and_records():
    model = load_checkpoint(TINY_CKPT)
    opts = SamplerOptions(max_new_tokens=11, seed=5, stop_on_eos=False)
    a = ReferenceSampler(model, opts).generate([256])
    b = ReferenceSampler(model, opts).generate([256])
    assert a["tokens"] == b["tokens"] and len(a["tokens"]) == 12
    fx = make_fixture(model, "models/tiny-random-b4", [256], opts)
    assert fx["final_tokens"] == a["tokens"]
    assert fx["forwards"] == a["forwards"] == 11 + 3  # one forward per revealed token, 3 commits


@pytest.mark.skipif(node_available() is not None, reason=str(node_available()))
@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.relpath(f, REPO) for f in FIXTURES])
def test_fixture_replays_with_onnxruntime_node(path):
    """An independent JavaScript replay (model/parity/replay_fixture.mjs) with ONNX Runtime reproduces every
    recorded token: the fixtures are usable by the TypeScript engine."""
    proc = subprocess.run(["node", os.path.join(REPO, "model", "parity", "replay_fixture.mjs"), path, "--repo", REPO],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout)["ok"]
