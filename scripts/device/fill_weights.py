"""Write the weights that strip_weights.py left out, as random values with each tensor's mean and std.

  python3 scripts/device/fill_weights.py --src .devcarry/released --out /tmp/bd3dev/released [--dtypes float16,float32]

Runs on the remote machine (onnx 1.23, numpy 2; also onnx 1.12, numpy 1.24). For each graph of the manifest
whose dtype is asked for: copies the graph proto, checks every external initializer against weights.json
(dtype, element count, offset, length), and writes `<graph>.data` with normal(mean, std) values of the
tensor's dtype at its offset. The result is a model package the engine loads as is: the manifest keeps only
the graphs written, and each one's sha256 and byte count are recomputed from the copied proto (the engine
checks the graph file, not its external data). Timing is what this package is for; its text is noise.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto

NUMPY_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16, TensorProto.DOUBLE: np.float64}


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def external_tensors(model):
    """(name, numpy dtype, element count, location, offset, length) of every external initializer."""
    found = []
    for tensor in model.graph.initializer:
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        if tensor.data_type not in NUMPY_TYPES:
            raise SystemExit(f"{tensor.name}: external tensor of unsupported data type {tensor.data_type}")
        count = int(np.prod(tensor.dims, dtype=np.int64)) if len(tensor.dims) else 1
        found.append(
            (tensor.name, NUMPY_TYPES[tensor.data_type], count, info["location"], int(info.get("offset", 0)), int(info["length"]))
        )
    return found


def fill_graph(src_path, out_dir, stats, seed):
    model = onnx.load(src_path, load_external_data=False)
    tensors = external_tensors(model)
    by_file = {}
    for name, dtype, count, location, offset, length in tensors:
        if os.path.basename(location) != location:
            raise SystemExit(f"{name}: external data location {location!r} is not a plain file name")
        if count * np.dtype(dtype).itemsize != length:
            raise SystemExit(f"{name}: {count} x {np.dtype(dtype).name} is not {length} bytes")
        stat = stats.get(name)
        if stat is None or stat["count"] != count or stat["offset"] != offset or stat["length"] != length:
            raise SystemExit(f"{name}: weights.json does not describe this tensor ({stat})")
        by_file.setdefault(location, []).append((name, dtype, count, offset, length, stat))
    written = 0
    for location, entries in by_file.items():
        end = max(offset + length for _, _, _, offset, length, _ in entries)
        with open(os.path.join(out_dir, location), "wb") as handle:
            handle.truncate(end)
            for index, (name, dtype, count, offset, _length, stat) in enumerate(entries):
                if stat["std"] == 0:
                    values = np.full(count, stat["mean"], dtype=dtype)
                else:
                    rng = np.random.default_rng([seed, index])
                    values = rng.standard_normal(count, dtype=np.float32)
                    values *= np.float32(stat["std"])
                    values += np.float32(stat["mean"])
                    values = values.astype(dtype, copy=False)
                handle.seek(offset)
                handle.write(values.tobytes())
                written += values.nbytes
    return len(tensors), written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="folder written by strip_weights.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    wanted = {dtype.strip() for dtype in args.dtypes.split(",") if dtype.strip()}
    with open(os.path.join(args.src, "manifest.json")) as handle:
        manifest = json.load(handle)
    with open(os.path.join(args.src, "weights.json")) as handle:
        weights = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    kept = []
    for graph in manifest["graphs"]:
        if graph["dtype"] not in wanted:
            continue
        started = time.time()
        src_path = os.path.join(args.src, graph["file"])
        dst_path = os.path.join(args.out, graph["file"])
        shutil.copyfile(src_path, dst_path)
        count, written = fill_graph(dst_path, args.out, weights["graphs"][graph["file"]]["tensors"], args.seed)
        size, digest = os.path.getsize(dst_path), sha256_file(dst_path)
        if (size, digest) != (graph["bytes"], graph["sha256"]):
            print(f"{graph['file']}: manifest sha256/bytes rewritten for the copied graph", file=sys.stderr)
            graph["bytes"], graph["sha256"] = size, digest
        kept.append(graph)
        print(
            f"{graph['file']} ({graph['dtype']}): {count} tensors, {written / 1e6:.0f} MB written "
            f"in {time.time() - started:.1f} s",
            file=sys.stderr,
        )
    missing = wanted - {graph["dtype"] for graph in kept}
    if missing:
        raise SystemExit(f"no graph of dtype {sorted(missing)} in {args.src}/manifest.json")
    manifest["graphs"] = kept
    with open(os.path.join(args.out, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
