import torch

from bd3lm_toolkit.dit import BD3LM, block_diff_mask, init_weights
from bd3lm_toolkit.objective import interval_grid, sample_t, search_interval, subs_log_probs, token_nll

from conftest import small_config


def test_three_part_mask_matches_paper():
    m = block_diff_mask(4, 2)
    # rows/cols 0..3 = x_t, 4..7 = x_0; blocks of 2
    expect = torch.tensor([
        [1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 1, 1],
    ], dtype=torch.bool)
    assert torch.equal(m, expect)


def test_split_attention_equals_full_mask(small_model):
    torch.manual_seed(0)
    for L in (1, 4, 8):
        x0 = torch.randint(0, 256, (3, 32))
        xt = x0.clone()
        xt[torch.rand(3, 32) < 0.5] = 257
        with torch.no_grad():
            a = small_model.backbone.forward_train(xt, x0, L)
            b = small_model.backbone.forward_train_reference(xt, x0, L)
        assert (a - b).abs().max() < 1e-5


def test_split_attention_gradients_match():
    torch.manual_seed(0)
    m = init_weights(BD3LM(small_config()), seed=2)
    x0 = torch.randint(0, 256, (2, 32))
    xt = x0.clone()
    xt[torch.rand(2, 32) < 0.5] = 257
    m.backbone.forward_train(xt, x0, 4).square().mean().backward()
    g1 = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m.backbone.forward_train_reference(xt, x0, 4).square().mean().backward()
    for a, p in zip(g1, m.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6, rtol=1e-4)


def test_block_size_1_full_masking_is_ar_nll(small_model):
    """L' = 1 with every token masked: the loss is exactly the AR negative log-likelihood, computed here by
    a left-to-right pass of the KV-cached step (an independent code path)."""
    torch.manual_seed(1)
    B, n = 3, 32
    x0 = torch.randint(0, 256, (B, n))
    x0[:, 0] = 256
    with torch.no_grad():
        nll, xt, t = token_nll(small_model, x0, 1, 1.0, 1.0, 257)
        assert torch.all(t == 1) and torch.all(xt[:, 1:] == 257)
        causal = torch.tril(torch.ones(n, n, dtype=torch.bool))[None].expand(B, n, n)
        _, pk, pv = small_model.step(x0, torch.arange(n)[None].expand(B, n), attention_mask=causal)
        ar = torch.zeros(B, n)
        for i in range(1, n):
            lg, _, _ = small_model.step(torch.full((B, 1), 257), torch.full((B, 1), i), pk[:, :, :, :i], pv[:, :, :, :i])
            ar[:, i] = -subs_log_probs(lg, 257)[:, 0].gather(-1, x0[:, i:i + 1])[:, 0]
    assert nll[:, 0].abs().max() == 0
    assert (nll - ar).abs().max() < 1e-5
    assert abs(float(nll[:, 1:].mean()) - float(ar[:, 1:].mean())) < 1e-6


def test_nelbo_weights_and_subs(small_model):
    torch.manual_seed(2)
    x0 = torch.randint(0, 256, (4, 32))
    nll, xt, t = token_nll(small_model, x0, 4, 0.3, 0.8, 257)
    unmasked = xt != 257
    assert torch.all(nll[unmasked] == 0)
    assert torch.all(nll[~unmasked] > 0)
    assert torch.all((t >= 0.3) & (t <= 0.8))
    # one t per block
    assert torch.all(t.view(4, 8, 4).std(-1) == 0)


def test_sample_t_is_stratified():
    t = sample_t(8, 16, 0.0, 1.0)
    srt = torch.sort(t.flatten()).values
    m = srt.numel()
    assert torch.all((srt >= torch.arange(m) / m) & (srt < (torch.arange(m) + 1) / m))
    t = sample_t(4, 4, 0.3, 0.8)
    assert t.min() >= 0.3 and t.max() <= 0.8


def test_interval_grid_and_search(small_model):
    grid = interval_grid()
    assert (0.3, 0.8) in [(round(a, 2), round(b, 2)) for a, b in grid]
    assert all(0.5 - 1e-9 <= b - a or a == 1e-3 for a, b in grid)
    seqs = torch.randint(0, 256, (4, 32))
    res = search_interval(small_model, seqs, 4, 257, intervals=[(1e-3, 1.0), (0.3, 0.8), (0.45, 0.95)])
    assert len(res["results"]) == 3 and res["best"] in [r["interval"] for r in res["results"]]
