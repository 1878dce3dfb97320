"""The float16 graph of a package, made from the traced float32 one: weight matrices and past/present K/V stored
as float16, Cast nodes at the graph edge, compute in float32 (contract: docs/model-package.md)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _to_fp16(src: str, dst: str) -> None:
    """Weights and past/present K/V as float16; compute stays float32 (Cast at the graph edge)."""
    m = onnx.load(src)
    g = m.graph
    new_inits, casts = [], []
    for init in g.initializer:
        # matrices only: vectors (biases, LayerNorm scale/shift, rotary inv_freq) stay float32. inv_freq in
        # float16 would put rotary angles off by up to ~5e-4 * position radians.
        if init.data_type == TensorProto.FLOAT and len(init.dims) >= 2:
            arr = numpy_helper.to_array(init).astype(np.float16)
            h = numpy_helper.from_array(arr, name=init.name + "__fp16")
            new_inits.append(h)
            casts.append(helper.make_node("Cast", [h.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"))
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    # past_key/past_value: float16 inputs cast to float32
    for inp in g.input:
        if inp.name in ("past_key", "past_value"):
            inner = inp.name + "__f32"
            for node in g.node:
                for i, n in enumerate(node.input):
                    if n == inp.name:
                        node.input[i] = inner
            casts.append(helper.make_node("Cast", [inp.name], [inner], to=TensorProto.FLOAT, name=inp.name + "__cast"))
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    tail = []
    for out in g.output:
        if out.name in ("present_key", "present_value"):
            inner = out.name + "__f32"
            for node in g.node:
                for i, n in enumerate(node.output):
                    if n == out.name:
                        node.output[i] = inner
            tail.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT16, name=out.name + "__cast"))
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = casts + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)
