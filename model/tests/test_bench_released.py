"""The released-algorithm cost model (bench_reference --algorithm released) computes the same block logits as
the cached-queries path (model.step with a post-rotary K/V cache), including after the window slides."""
import torch

from bd3lm_toolkit.bench_reference import ReleasedWindow, measure_released, measure_released_nocache


def test_released_matches_cached_block_logits(small_model):
    cfg = small_model.config
    L, W, M, V = cfg.block_size, cfg.model_length, cfg.mask_id, cfg.vocab_size
    g = torch.Generator().manual_seed(3)
    win = ReleasedWindow(small_model)
    pk = torch.zeros(cfg.n_blocks, 1, cfg.n_heads, 0, cfg.head_dim)
    pv = torch.zeros_like(pk)
    worst = 0.0
    with torch.no_grad():
        for b in range(W // L + 3):  # past the context: the window slides
            start = b * L
            x = torch.randint(0, V - 2, (L,), generator=g).tolist()
            noisy = [M if i % 2 else t for i, t in enumerate(x)]
            for ids, store in ((noisy, False), (x, True)):
                P = pk.shape[3]
                ref, k, v = small_model.step(torch.tensor([ids]), torch.arange(start, start + L)[None], pk, pv,
                                             torch.ones(1, L, P + L, dtype=torch.bool))
                assert win.length == P
                got = win.forward(ids, start, store=store)
                worst = max(worst, float((got - ref[0]).abs().max()))
            pk, pv = torch.cat([pk, k], 3), torch.cat([pv, v], 3)
            if pk.shape[3] > W - L:
                pk, pv = pk[:, :, :, -(W - L):], pv[:, :, :, -(W - L):]
    assert worst <= 1e-4, worst


def test_released_prefill_equals_block_commits(small_model):
    cfg = small_model.config
    L, W, V = cfg.block_size, cfg.model_length, cfg.vocab_size
    ids = torch.randint(0, V - 2, (W - L,), generator=torch.Generator().manual_seed(4)).tolist()
    a, b = ReleasedWindow(small_model), ReleasedWindow(small_model)
    a.prefill(ids)
    for i in range(0, len(ids), L):
        b.forward(ids[i:i + L], i, store=True)
    assert max(float((x - y).abs().max()) for x, y in zip(a.cache, b.cache)) <= 1e-4
    blk = [cfg.mask_id] * L
    assert float((a.forward(blk, W - L, False) - b.forward(blk, W - L, False)).abs().max()) <= 1e-4
    r = measure_released(small_model, [cfg.bos_id] + ids[1:], 2, 0)
    assert r["forwards"] == 2 and r["past_length_start"] == W - L and r["tokens_per_s"] > 0


def test_released_nocache_whole_window_equals_cached_block_logits(small_model):
    """The no-cache released path (whole window through every layer, block-causal) gives the same block logits
    as the cached path, and the measurement reports a full window as its past."""
    cfg = small_model.config
    L, W, V, M = cfg.block_size, cfg.model_length, cfg.vocab_size, cfg.mask_id
    ids = torch.randint(0, V - 2, (W - L,), generator=torch.Generator().manual_seed(5)).tolist()
    cached = ReleasedWindow(small_model)
    cached.prefill(ids)
    blk = [M if i % 3 else 7 for i in range(L)]
    whole = ReleasedWindow(small_model).forward(ids + blk, 0, store=False, block_causal=True)[-L:]
    assert float((whole - cached.forward(blk, W - L, False)).abs().max()) <= 1e-4
    r = measure_released_nocache(small_model, [cfg.bos_id] + ids[1:], min(3, L), 0)
    assert r["forwards"] == r["tokens"] == min(3, L) and r["past_length_start"] == W - L and r["tokens_per_s"] > 0
