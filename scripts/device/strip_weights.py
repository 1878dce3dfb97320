"""Keep a model package's graphs without their weights, for a machine the weights would not fit on.

  /usr/bin/python3 scripts/device/strip_weights.py --src models/.cache/random-owt-b16 --out .devcarry/released

Run by pack.sh on the build host (onnx 1.12). For each graph of the package's manifest, every floating-point
initializer of at least --min-bytes becomes external data (location `<graph>.data`, 4 KiB-aligned offsets)
whose bytes are NOT written: the graph proto keeps the names, shapes, dtypes, offsets and lengths, and
`weights.json` keeps each tensor's mean and standard deviation. fill_weights.py writes the data file on the
remote machine from those statistics (a random package's LayerNorm scales are all 1 and its biases all 0, so
their standard deviation is 0 and they are written exactly). Smaller tensors, tensors with non-finite values
(the SUBS bias over the vocabulary: -inf at [MASK]) and every non-float initializer stay inside the graph
unchanged. The manifest is copied with each graph's sha256 and byte count replaced by
the stripped graph's (the engine checks the graph file, not its external data).
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

FLOAT_TYPES = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.DOUBLE: "float64"}
ALIGN = 4096


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def strip_graph(src_path, dst_path, data_name, min_bytes):
    model = onnx.load(src_path)
    tensors = {}
    offset = 0
    for tensor in model.graph.initializer:
        if tensor.data_type not in FLOAT_TYPES:
            continue
        array = numpy_helper.to_array(tensor)
        if array.nbytes < min_bytes or not np.isfinite(array).all():
            # Small tensors, and constants that are not weights (the SUBS bias: -inf at [MASK], which mean and
            # standard deviation cannot describe), stay in the graph as they are.
            continue
        wide = array.astype(np.float64)
        offset = (offset + ALIGN - 1) // ALIGN * ALIGN
        tensors[tensor.name] = {
            "dtype": FLOAT_TYPES[tensor.data_type],
            "count": int(array.size),
            "offset": offset,
            "length": int(array.nbytes),
            "mean": float(wide.mean()),
            "std": float(wide.std()),
        }
        for field in ("raw_data", "float_data", "int32_data", "double_data"):
            tensor.ClearField(field)
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key = key
            entry.value = value
        offset += array.nbytes
        del array, wide
    onnx.save(model, dst_path)
    return {"data": data_name, "bytes": offset, "tensors": tensors}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="model package folder (manifest.json + graphs)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-bytes", type=int, default=1024)
    args = ap.parse_args(argv)
    with open(os.path.join(args.src, "manifest.json")) as handle:
        manifest = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    weights = {"source": os.path.abspath(args.src), "graphs": {}}
    for graph in manifest["graphs"]:
        src_path = os.path.join(args.src, graph["file"])
        dst_path = os.path.join(args.out, graph["file"])
        info = strip_graph(src_path, dst_path, graph["file"] + ".data", args.min_bytes)
        graph["bytes"] = os.path.getsize(dst_path)
        graph["sha256"] = sha256_file(dst_path)
        weights["graphs"][graph["file"]] = info
        print(
            f"{graph['file']} ({graph['dtype']}): graph {graph['bytes']} bytes, "
            f"{len(info['tensors'])} tensors / {info['bytes']} bytes left to fill_weights.py",
            file=sys.stderr,
        )
    with open(os.path.join(args.out, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(args.out, "weights.json"), "w") as handle:
        json.dump(weights, handle, indent=1)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
