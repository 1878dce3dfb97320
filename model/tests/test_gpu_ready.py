"""The GPU-facing parts of the trainer, tested on the CPU: SDPA vs explicit attention, bf16 autocast, device-aware
data and objective, corpus files (plain / xz), the trainer's deadline, resume, and the gpu_demo driver end to end
with a tiny model and a synthetic corpus.

SDPA: torch 1.13 (Debian, what these tests run on here) has no F.scaled_dot_product_attention, so
test_sdpa_matches_explicit is skipped on exactly that condition; it runs under torch >= 2.0.
"""
import json
import lzma
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bd3lm_toolkit.checkpoint import load_checkpoint
from bd3lm_toolkit.data import RandomWindows, load_kjv_tokens
from bd3lm_toolkit.dit import BD3LM, HAS_SDPA, init_weights
from bd3lm_toolkit.objective import sample_t, training_loss
from bd3lm_toolkit.train import preflight

from conftest import small_config

MODEL_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORDS = ("and god said let there be light the earth was without form void darkness upon face of deep spirit moved "
         "waters saw that it good divided from called day night evening morning first firmament heaven").split()


def synthetic_corpus(path: str, books: int = 6, verses: int = 120, seed: int = 0, xz: bool = False) -> bytes:
    """A small KJV-like corpus: books of verse lines, separated by form-feed lines (the kjv.txt layout)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(books):
        lines = []
        for _ in range(verses):
            n = int(rng.integers(6, 16))
            words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), n)]
            lines.append(" ".join(words).capitalize() + ".")
        parts.append("\n".join(lines) + "\n\f\n")
    raw = "".join(parts).encode("ascii")
    with open(path, "wb") as fh:
        fh.write(lzma.compress(raw) if xz else raw)
    return raw


def _masked_pair(B=3, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randint(0, 256, (B, n), generator=g)
    xt = x0.clone()
    xt[torch.rand(B, n, generator=g) < 0.5] = 257
    return xt, x0


@pytest.mark.skipif(not HAS_SDPA, reason="torch < 2.0: no F.scaled_dot_product_attention (this is the only skip condition)")
def test_sdpa_matches_explicit():
    torch.manual_seed(0)
    m = init_weights(BD3LM(small_config()), seed=3, output_std=0.5)
    bb = m.backbone
    for L in (1, 4, 8):
        xt, x0 = _masked_pair(seed=L)
        bb.attn_impl = "explicit"
        a = bb.forward_train(xt, x0, L)
        a.square().mean().backward()
        ga = [p.grad.clone() for p in m.parameters()]
        m.zero_grad()
        bb.attn_impl = "sdpa"
        b = bb.forward_train(xt, x0, L)
        b.square().mean().backward()
        assert (a - b).abs().max() < 1e-5
        for g1, p in zip(ga, m.parameters()):
            assert torch.allclose(g1, p.grad, atol=1e-6, rtol=1e-4)
        m.zero_grad()
        ref = bb.forward_train_reference(xt, x0, L)
        assert (ref - b).abs().max() < 1e-5


def test_sdpa_refused_without_torch2():
    m = BD3LM(small_config())
    m.backbone.attn_impl = "sdpa"
    xt, x0 = _masked_pair()
    if HAS_SDPA:
        m.backbone.forward_train(xt, x0, 4)
    else:
        with pytest.raises(RuntimeError, match="torch >= 2.0"):
            m.backbone.forward_train(xt, x0, 4)
    m.backbone.attn_impl = "bogus"
    with pytest.raises(ValueError):
        m.backbone.forward_train(xt, x0, 4)


def test_explicit_attention_under_bf16_autocast():
    """The masked-score fill must fit the score dtype: float32's min overflows bfloat16 (masked_fill refuses it).
    CPU autocast stands in for CUDA autocast here (the same dtype reaches masked_fill)."""
    torch.manual_seed(0)
    m = init_weights(BD3LM(small_config()), seed=4)
    x0 = torch.randint(0, 256, (2, 32))
    for L in (1, 4):
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            loss = training_loss(m, x0, L, 0.3, 0.8 if L > 1 else 1.0, 257)
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in m.parameters())
        m.zero_grad()


def test_preflight_picks_a_working_configuration():
    m = init_weights(BD3LM(small_config()), seed=5)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    recs = []
    x0 = torch.randint(0, 256, (2, 32))
    impl, bf16 = preflight(m, x0, 4, 0.3, 0.8, 257, want_sdpa=HAS_SDPA, want_bf16=False, log=recs.append)
    assert impl == ("sdpa" if HAS_SDPA else "explicit") and bf16 is False
    assert all(p.grad is None for p in m.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert recs[-1]["ok"] is True


def test_device_arguments_keep_cpu_draws():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator(device="cpu").manual_seed(3)
    assert torch.equal(sample_t(4, 8, 0.3, 0.8, g1), sample_t(4, 8, 0.3, 0.8, g2, device=torch.device("cpu")))
    stream = (np.arange(5000) % 251).astype(np.int16)
    a, b = RandomWindows(stream, 32, 4, seed=1), RandomWindows(stream, 32, 4, seed=1, device="cpu")
    for _ in range(3):
        x, y = a.next(), b.next()
        assert torch.equal(x, y) and torch.all(x[:, 0] == 256)
        assert torch.all((x[:, 2:] - x[:, 1:-1]) % 251 == 1)  # contiguous windows of the stream


def test_corpus_from_plain_and_xz_files(tmp_path):
    raw = synthetic_corpus(str(tmp_path / "kjv.txt"))
    synthetic_corpus(str(tmp_path / "c.xz"), xz=True)
    d = tmp_path / "dir"
    d.mkdir()
    synthetic_corpus(str(d / "kjv.txt.xz"), xz=True)
    a = load_kjv_tokens(str(tmp_path / "kjv.txt"))
    b = load_kjv_tokens(str(tmp_path / "c.xz"))
    c = load_kjv_tokens(str(d))
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert int((a == 256).sum()) == 6 and len(a) == len(raw) - 6 * 2 + 6  # BOS per book, form-feed lines dropped


def _run(args, timeout=120):
    env = dict(os.environ, PYTHONPATH=MODEL_DIR, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=MODEL_DIR)


TINY = ["--layers", "1", "--hidden", "32", "--heads", "2", "--context", "32"]


def test_trainer_stop_at_and_resume(tmp_path):
    corpus = str(tmp_path / "kjv.txt.xz")
    synthetic_corpus(corpus, xz=True)
    out = str(tmp_path / "run")
    common = ["-m", "bd3lm_toolkit.train", "--out", out, "--block-size", "4", "--batch-size", "2", "--data", corpus,
              "--eval-seqs", "4", "--final-eval-seqs", "4", "--log-every", "1", *TINY]
    # a deadline in the past: no step, but the final eval and the checkpoint still happen
    p = _run(common + ["--minutes", "10", "--stop-at", str(time.time() - 1)])
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    fin = [r for r in recs if r.get("event") == "final_eval"][-1]
    assert fin["step"] == 0 and fin["stopped"] == "stop_at"
    assert load_checkpoint(os.path.join(out, "checkpoint")).config.block_size == 4
    # resume from state.pt (torch.load of our own state, weights_only=False where torch has the argument)
    p = _run(common + ["--max-steps", "3", "--resume"])
    assert p.returncode == 0, p.stderr
    p = _run(common + ["--max-steps", "5", "--resume"])
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    assert [r["step"] for r in recs if r.get("event") == "final_eval"] == [0, 3, 5]
    assert [r["event"] for r in recs if r.get("event") in ("resume", "start")] == ["start", "resume", "resume"]


def test_gpu_demo_driver_end_to_end(tmp_path):
    """The driver with a tiny model, a synthetic corpus and budgets of seconds, on the CPU: both phases, the
    final evals and grid search, samples, and the delivered files."""
    corpus = str(tmp_path / "kjv.txt.xz")
    synthetic_corpus(corpus, xz=True)
    out = str(tmp_path / "out")
    p = _run(["-m", "bd3lm_toolkit.gpu_demo", "--data", corpus, "--out", out, "--work", str(tmp_path / "work"),
              "--device", "cpu", "--minutes-ar", "0.02", "--minutes-bd3", "0.03", "--batch-size", "4", *TINY,
              "--eval-seqs", "4", "--final-eval-seqs", "4", "--search-step", "0.25", "--samples", "2",
              "--sample-tokens", "8", "--log-every", "5", "--eval-batch-size", "8", "--warmup-steps", "2"],
             timeout=150)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.load(open(os.path.join(out, "results.json")))
    assert res["errors"] == [] and res["exit_code"] == 0
    for name in ("ar", "ar2", "b16", "b4"):
        f = res["runs"][name]["final_eval"]
        assert f["val_bpb"] > 0 and f["step"] > 0, name
    assert res["runs"]["ar2"]["init_from"] == "ar/checkpoint"
    for name, L in (("b16", 16), ("b4", 4)):
        s = res["runs"][name]["search"]
        assert s["best"] in [r["interval"] for r in s["results"]]
        assert len(res["samples"][name]) == 2 and res["samples"][name][0]["text"].startswith("And God said")
        m = load_checkpoint(os.path.join(out, name, "checkpoint"))
        assert m.config.block_size == L and m.config.training["init_from"].endswith("ar/checkpoint")
    files = sorted(os.path.relpath(os.path.join(r, n), out) for r, _, ns in os.walk(out) for n in ns)
    assert files == ["b16/checkpoint/config.json", "b16/checkpoint/model.safetensors", "b4/checkpoint/config.json",
                     "b4/checkpoint/model.safetensors", "logs.jsonl", "results.json", "train.log"]
    runs = {json.loads(line)["run"] for line in open(os.path.join(out, "logs.jsonl"))}
    assert runs == {"ar", "ar2", "b16", "b4"}
    assert "BD3-LM L'=16" in open(os.path.join(out, "train.log")).read()
