import os
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

from bd3lm_toolkit.config import demo_config  # noqa: E402
from bd3lm_toolkit.dit import BD3LM, init_weights  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


def small_config(block_size=4, context=32, layers=2, hidden=64, heads=4):
    return demo_config(block_size, context).replace(n_blocks=layers, hidden_dim=hidden, n_heads=heads, cond_dim=32)


@pytest.fixture(scope="session")
def small_model():
    torch.manual_seed(0)
    return init_weights(BD3LM(small_config()), seed=1, output_std=0.5).eval()
