"""random_package: a re-export (new exporter, or --force) keeps the checkpoint it already wrote."""
import hashlib
import json
import os

from bd3lm_toolkit import random_package


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_reexport_keeps_the_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "rnd")
    args = ["--out", out, "--block-size", "4", "--layers", "1", "--hidden", "32", "--heads", "2", "--context", "16",
            "--dtypes", "float32"]
    assert random_package.main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["cached"] is False and first["checkpoint_reused"] is False
    ck = os.path.join(out + ".ckpt", "model.safetensors")
    sha, mtime = _sha(ck), os.path.getmtime(ck)
    assert random_package.main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cached"] is True
    stamp = os.path.join(out, ".random_package.json")
    old = json.load(open(stamp))
    json.dump(dict(old, exporter=old["exporter"] - 1), open(stamp, "w"))  # a package from an older exporter
    assert random_package.main(args) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["cached"] is False and again["checkpoint_reused"] is True
    assert _sha(ck) == sha and os.path.getmtime(ck) == mtime
    assert json.load(open(stamp)) == old
    man = json.load(open(os.path.join(out, "manifest.json")))
    assert man["io"]["outputs"]["logit_stats"] == "logit_stats" and "logit_index" in man["io"]["inputs"]
    assert random_package.main(args + ["--new-checkpoint", "--force"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["checkpoint_reused"] is False
    assert _sha(ck) == sha  # same seed, same weights
