import json
import os

import pytest
import torch

from bd3lm_toolkit.checkpoint import (CheckpointError, load_checkpoint, load_safetensors, save_checkpoint,
                                      save_safetensors, write_random_checkpoint)
from bd3lm_toolkit.config import BD3LMConfig, released_config, released_small_config
from bd3lm_toolkit.dit import BD3LM, param_shapes

from conftest import small_config


def test_safetensors_roundtrip(tmp_path):
    ts = {
        "a": torch.randn(3, 4),
        "b": torch.randn(5).half(),
        "c": torch.randn(2, 2).bfloat16(),
        "d": torch.arange(7),
        "e": torch.tensor(1.5),
    }
    p = str(tmp_path / "x.safetensors")
    save_safetensors(ts, p, metadata={"format": "pt"})
    back, meta = load_safetensors(p)
    assert meta == {"format": "pt"}
    for k, v in ts.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert torch.equal(back[k].float(), v.float())
    # layout: 8-byte little-endian header length, JSON header, data
    raw = open(p, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    assert header["a"]["dtype"] == "F32" and header["a"]["shape"] == [3, 4]
    assert len(raw) == 8 + n + max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")


def test_released_layout_names_and_shapes():
    shapes = dict(param_shapes(released_config(16)))
    bb = {k[len("backbone."):]: v for k, v in shapes.items() if k.startswith("backbone.")}
    expect = {
        "vocab_embed.embedding": (50258, 768),
        "sigma_map.mlp.0.weight": (128, 256), "sigma_map.mlp.0.bias": (128,),
        "sigma_map.mlp.2.weight": (128, 128), "sigma_map.mlp.2.bias": (128,),
        "rotary_emb.inv_freq": (32,),
        "output_layer.norm_final.weight": (768,),
        "output_layer.linear.weight": (50258, 768), "output_layer.linear.bias": (50258,),
        "output_layer.adaLN_modulation.weight": (1536, 128), "output_layer.adaLN_modulation.bias": (1536,),
    }
    for i in range(12):
        expect.update({
            f"blocks.{i}.norm1.weight": (768,), f"blocks.{i}.norm2.weight": (768,),
            f"blocks.{i}.attn_qkv.weight": (2304, 768), f"blocks.{i}.attn_out.weight": (768, 768),
            f"blocks.{i}.mlp.0.weight": (3072, 768), f"blocks.{i}.mlp.0.bias": (3072,),
            f"blocks.{i}.mlp.2.weight": (768, 3072), f"blocks.{i}.mlp.2.bias": (768,),
            f"blocks.{i}.adaLN_modulation.weight": (4608, 128), f"blocks.{i}.adaLN_modulation.bias": (4608,),
        })
    assert bb == expect
    assert set(shapes) - {"backbone." + k for k in bb} == {"sampling_eps_min", "sampling_eps_max"}
    n = sum(int(torch.tensor(s).prod()) if s else 1 for k, s in shapes.items() if k.startswith("backbone."))
    assert 165e6 < n < 175e6  # "about 170M parameters"


def test_released_small_keeps_the_released_layout():
    """`checkpoint random --shape released-small` (docs/real-models.md's rehearsal): the released parameter names
    (blocks 0-1 of 12), config keys, vocabulary, cond_dim and tokenizer ids, only narrower and shallower."""
    small, full = released_small_config(4), released_config(4)
    full_names = {k for k, _ in param_shapes(full) if not k.startswith("backbone.blocks.") or k.split(".")[2] in ("0", "1")}
    assert {k for k, _ in param_shapes(small)} == full_names
    assert set(small.to_json_dict()) == set(full.to_json_dict())
    assert (small.vocab_size, small.cond_dim, small.tokenizer, small.mask_id) == (50258, 128, "gpt2", 50257)
    assert (small.n_blocks, small.hidden_dim, small.n_heads, small.model_length) == (2, 64, 2, 64)


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_checkpoint_roundtrip(tmp_path, fmt):
    cfg = small_config()
    m = write_random_checkpoint(str(tmp_path / "ck"), cfg, seed=3, fmt=fmt)
    back = load_checkpoint(str(tmp_path / "ck"))
    for k, v in m.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    assert back.config.block_size == cfg.block_size


def test_hf_generic_keys_are_ignored(tmp_path):
    cfg = small_config()
    d = str(tmp_path / "ck")
    write_random_checkpoint(d, cfg)
    data = json.load(open(os.path.join(d, "config.json")))
    data.update({"auto_map": {"AutoConfig": "configuration_bd3lm.BD3LMConfig"}, "transformers_version": "4.49.0",
                 "return_dict": False})
    json.dump(data, open(os.path.join(d, "config.json"), "w"))
    load_checkpoint(d)


def test_error_no_checkpoint(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    small_config().save(str(d / "config.json"))
    with pytest.raises(CheckpointError, match=r"empty.*no checkpoint found.*model.safetensors"):
        load_checkpoint(str(d))
    with pytest.raises(CheckpointError, match="not a directory"):
        load_checkpoint(str(tmp_path / "missing"))


def test_error_no_config(tmp_path):
    d = str(tmp_path / "ck")
    write_random_checkpoint(d, small_config())
    os.remove(os.path.join(d, "config.json"))
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(d)


def test_error_unknown_config_key(tmp_path):
    d = str(tmp_path / "ck")
    write_random_checkpoint(d, small_config())
    data = json.load(open(os.path.join(d, "config.json")))
    data["n_experts"] = 8
    json.dump(data, open(os.path.join(d, "config.json"), "w"))
    with pytest.raises(CheckpointError, match=r"config.json: unknown config key 'n_experts'"):
        load_checkpoint(d)


def test_error_wrong_shape_names_file_and_tensor(tmp_path):
    d = str(tmp_path / "ck")
    write_random_checkpoint(d, small_config())
    data = json.load(open(os.path.join(d, "config.json")))
    data["hidden_dim"] = 128  # the weights are 64 wide
    json.dump(data, open(os.path.join(d, "config.json"), "w"))
    with pytest.raises(CheckpointError, match=r"model.safetensors: tensor backbone\.\S+ has shape \[.*\], config.json implies \[.*\]"):
        load_checkpoint(d)


def test_error_missing_and_unexpected_tensor(tmp_path):
    d = str(tmp_path / "ck")
    m = write_random_checkpoint(d, small_config())
    sd = m.state_dict()
    sd.pop("backbone.blocks.1.attn_out.weight")
    save_safetensors(sd, os.path.join(d, "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"model.safetensors: missing 1 tensor.*blocks.1.attn_out.weight"):
        load_checkpoint(d)
    sd = m.state_dict()
    sd["backbone.extra.weight"] = torch.zeros(2)
    save_safetensors(sd, os.path.join(d, "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected tensor.*backbone.extra.weight"):
        load_checkpoint(d)


def test_error_corrupt_safetensors(tmp_path):
    d = str(tmp_path / "ck")
    write_random_checkpoint(d, small_config())
    p = os.path.join(d, "model.safetensors")
    raw = open(p, "rb").read()
    open(p, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(d)


def test_unsupported_config_values(tmp_path):
    with pytest.raises(CheckpointError, match="time_conditioning"):
        BD3LMConfig.from_json_dict({"time_conditioning": True}, "x/config.json")
    with pytest.raises(CheckpointError, match="hidden_dim 100 is not a multiple of n_heads 12"):
        BD3LMConfig.from_json_dict({"hidden_dim": 100}, "x/config.json")


def test_released_config_defaults():
    cfg = released_config()
    assert (cfg.n_blocks, cfg.hidden_dim, cfg.n_heads, cfg.vocab_size, cfg.model_length) == (12, 768, 12, 50258, 1024)
    assert (cfg.mask_id, cfg.bos_id, cfg.eos_id, cfg.tokenizer) == (50257, 50256, 50256, "gpt2")


def test_export_cli_reports_bad_input(tmp_path, capsys):
    from bd3lm_toolkit.export import main as export_main
    d = tmp_path / "nockpt"
    d.mkdir()
    small_config().save(str(d / "config.json"))
    assert export_main(["--from", str(d), "--out", str(tmp_path / "pkg")]) == 2
    err = capsys.readouterr().err
    assert "nockpt: no checkpoint found" in err
    assert not os.path.exists(tmp_path / "pkg" / "manifest.json")


def test_derived_buffers_may_be_absent(tmp_path):
    d = str(tmp_path / "ck")
    m = write_random_checkpoint(d, small_config())
    sd = m.state_dict()
    for k in ("sampling_eps_min", "sampling_eps_max", "backbone.rotary_emb.inv_freq"):
        sd.pop(k)
    save_safetensors(sd, os.path.join(d, "model.safetensors"))
    back = load_checkpoint(d)
    assert torch.equal(back.backbone.rotary_emb.inv_freq, m.backbone.rotary_emb.inv_freq)


def test_released_config_json_is_accepted():
    """The keys of the published kuleshov-group/bd3lm-owt-block_size4 config.json."""
    data = {
        "_name_or_path": "kuleshov-group/bd3lm-owt-block_size4", "architectures": ["BD3LM"], "attn_backend": "sdpa",
        "auto_map": {"AutoConfig": "configuration_bd3lm.BD3LMConfig", "AutoModelForMaskedLM": "modeling_bd3lm.BD3LM"},
        "block_size": 4, "cond_dim": 128, "cross_attn": True, "dropout": 0.1, "hidden_dim": 768, "model_length": 1024,
        "model_type": "bd3lm", "n_blocks": 12, "n_heads": 12, "return_dict": False, "sampling_eps_max": 0.999,
        "sampling_eps_min": 0.001, "time_conditioning": False, "torch_dtype": "float32", "transformers_version": "4.49.0",
        "var_min": True, "vocab_size": 50258,
    }
    cfg = BD3LMConfig.from_json_dict(data, "bd3lm-owt-block_size4/config.json")
    assert (cfg.block_size, cfg.tokenizer, cfg.mask_id, cfg.head_dim) == (4, "gpt2", 50257, 64)
