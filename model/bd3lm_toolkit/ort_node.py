"""Run ONNX graphs through onnxruntime-node (model/parity/run_ort.mjs): Python has no onnxruntime here."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(REPO, "model", "parity", "run_ort.mjs")

_NP = {"int64": np.int64, "float32": np.float32, "float16": np.float16, "bool": np.bool_}


def node_available() -> Optional[str]:
    """None when node + onnxruntime-node can be used, else the reason."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        return "onnxruntime-node is not installed (run npm ci at the repository root)"
    return None


def run_cases(model_path: str, cases: List[Dict[str, np.ndarray]], threads: int = 2, timeout: float = 600) -> List[Dict[str, np.ndarray]]:
    """cases: list of {input name: numpy array}. Returns a list of {output name: numpy array}; each output
    dict also carries '__ms' (run time of that case, milliseconds)."""
    with tempfile.TemporaryDirectory(prefix="bd3lm-ort-") as d:
        spec = []
        for i, feeds in enumerate(cases):
            inputs = {}
            for name, arr in feeds.items():
                dtype = {np.dtype(np.int64): "int64", np.dtype(np.float32): "float32", np.dtype(np.float16): "float16",
                         np.dtype(np.bool_): "bool"}[arr.dtype]
                f = f"c{i}_{name}.bin"
                np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(d, f))
                inputs[name] = {"dtype": dtype, "shape": list(arr.shape), "file": f}
            spec.append({"id": f"c{i}", "inputs": inputs})
        with open(os.path.join(d, "cases.json"), "w") as fh:
            json.dump(spec, fh)
        env = dict(os.environ, ORT_THREADS=str(threads))
        proc = subprocess.run(["node", SCRIPT, os.path.abspath(model_path), d], capture_output=True, text=True, env=env,
                              timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed on {model_path}: {proc.stderr.strip()[-2000:]}")
        with open(os.path.join(d, "outputs.json")) as fh:
            report = json.load(fh)
        out = []
        for c in report["cases"]:
            res: Dict[str, np.ndarray] = {"__ms": c["ms"]}
            for name, o in c["outputs"].items():
                arr = np.fromfile(os.path.join(d, o["file"]), dtype=np.dtype(_NP[o["dtype"]]).newbyteorder("<"))
                res[name] = arr.reshape(o["shape"])
            out.append(res)
        return out
