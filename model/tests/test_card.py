"""The demo packages' cards are generated from the committed training logs (bd3lm_toolkit.card), not hand-edited."""
import os
import shlex

import pytest

from bd3lm_toolkit import card
from bd3lm_toolkit.gpu_demo import build_parser as gpu_demo_parser
from bd3lm_toolkit.train import build_parser as train_parser

PACKAGES = [os.path.join(card.REPO, "models", name) for name in card.PACKAGES.values()]
HAVE_LOGS = os.path.isfile(os.path.join(card.DEFAULT_TRAINING, "results.json"))


@pytest.mark.skipif(not HAVE_LOGS, reason="no training logs committed")
@pytest.mark.parametrize("package", PACKAGES, ids=[os.path.basename(p) for p in PACKAGES])
def test_committed_card_is_what_the_logs_give(package):
    with open(os.path.join(package, "README.md")) as fh:
        committed = fh.read()
    assert card.render_card(package) == committed, (
        f"{package}/README.md differs from its generated card: "
        f"bash model/scripts/python.sh -m bd3lm_toolkit.card --package {os.path.relpath(package, card.REPO)}")


@pytest.mark.skipif(not HAVE_LOGS, reason="no training logs committed")
def test_card_numbers_come_from_the_logs():
    tr = card.load_training(card.DEFAULT_TRAINING)
    text = card.card_extra(tr, 16)
    for L in card.PACKAGES:
        f = tr["cont"][L]["final"]
        assert f"<= {f['val_bpb']:.3f}" in text
    for key in ("ar", "ar2"):
        assert f"| {tr['results']['runs'][key]['final_eval']['val_bpb']:.3f} |" in text
    assert "does NOT hold" not in text  # AR <= L'=4 <= L'=16 for this run


@pytest.mark.skipif(not HAVE_LOGS, reason="no training logs committed")
def test_reproduce_commands_parse_back_to_the_recorded_arguments():
    tr = card.load_training(card.DEFAULT_TRAINING)
    cmds = card.reproduce_commands(tr)
    gd = shlex.split(cmds[0])
    assert gd[:4] == ["PYTHONPATH=model", "python3", "-m", "bd3lm_toolkit.gpu_demo"]
    got = vars(gpu_demo_parser().parse_args(gd[4:]))
    want = tr["results"]["args"]
    for k, v in want.items():
        if k not in ("data", "out", "total_minutes", "threads"):
            assert got[k] == v, k
    assert got["total_minutes"] is None and got["threads"] is None  # gpu_demo derives both as recorded
    assert (got["minutes_ar"] + got["minutes_bd3"] + 1.5, 2) == (want["total_minutes"], want["threads"])
    for L, line in zip(card.PACKAGES, cmds[1:3]):
        words = shlex.split(line.rstrip(" &"))
        got = vars(train_parser().parse_args(words[4:]))
        want = tr["cont"][L]["start"]["args"]
        for k, v in want.items():
            if k not in ("out", "init_from", "data_dir", "stop_at"):
                assert got[k] == v, (L, k)
        assert got["init_from"] == f"OUT/b{L}/checkpoint"


def test_command_line_flags():
    ap = train_parser()
    rec = vars(ap.parse_args(["--out", "x", "--bf16", "--lr", "8e-4", "--data", "c.xz"]))
    line = card.command_line("train", ap, rec, {"out": "O"})
    assert line == "train --out O --lr 0.0008 --bf16 --data c.xz"
