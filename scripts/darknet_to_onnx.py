"""Converts a Darknet YOLO network (``.cfg`` + ``.weights``) into an ONNX graph for privmask.

    python scripts/darknet_to_onnx.py yolov3-tiny.cfg yolov3-tiny.weights OUT.onnx --mask 1=1,2,3

This is how ``python/privmask/dynamic/models/yolov3-tiny-coco.onnx`` was made (see the README
in that folder for where the two input files come from). Only the layer kinds of YOLOv3-tiny
are supported: ``convolutional`` (batch-normalised or with a bias; ``leaky`` or ``linear``),
``maxpool``, ``route``, ``upsample`` and ``yolo``. Batch normalisation is folded into the
convolution weights with Darknet's own formula, ``(x - mean) / (sqrt(var) + 1e-6)``.

The graph takes a ``(n, 3, h, w)`` float32 RGB picture in [0, 1] (``h`` and ``w`` multiples of
32) and returns, for each ``yolo`` layer, the raw convolution output ``(n, anchors * (5 +
classes), h / stride, w / stride)``; decoding (sigmoids, anchors, non-maximum suppression) is
left to :mod:`privmask.dynamic.people`. The anchors, masks and class count are stored in the
model's metadata (``yolo_layers``: JSON) so that the decoder needs nothing else.

``--mask K=A,B,C`` replaces the anchor mask of the K-th ``yolo`` layer (from 0). The
``yolov3-tiny.cfg`` that circulates with the original weights says ``mask = 0,1,2`` for the second
layer, but the weights were trained with ``1,2,3`` (as later Darknet forks' cfg says): decoded with
``0,1,2`` every box comes out about half as large as the person it finds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def parse_cfg(text: str) -> list[dict[str, str]]:
    """The cfg's sections in order, each a dict with its ``type`` and its options."""
    sections: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append({"type": line.strip("[]").strip()})
        else:
            key, value = line.split("=", 1)
            sections[-1][key.strip()] = value.strip()
    return sections


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def convert(cfg: Path, weights: Path, out: Path, masks: dict[int, list[int]] | None = None) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    sections = parse_cfg(cfg.read_text())
    net, layers = sections[0], sections[1:]
    assert net["type"] in ("net", "network"), "the cfg must start with [net]"
    data = weights.read_bytes()
    major, minor, _revision = np.frombuffer(data[:12], dtype=np.int32)
    offset = 12 + (8 if major * 10 + minor >= 2 else 4)
    floats = np.frombuffer(data[offset:], dtype=np.float32)
    pos = 0

    def take(n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        nonlocal pos
        chunk = floats[pos : pos + n]
        if chunk.size != n:
            raise ValueError("the weights file is shorter than the cfg needs")
        pos += n
        return chunk.astype(np.float32)

    nodes: list[Any] = []
    inits: list[Any] = []
    names: list[str] = []  # output name of each layer
    channels: list[int] = []
    prev, prev_c = "image", int(net.get("channels", 3))
    outputs: list[str] = []
    yolo_meta: list[dict[str, Any]] = []
    stride_of: list[int] = []
    stride = 1
    for i, layer in enumerate(layers):
        kind = layer["type"]
        name = f"l{i}_{kind}"
        if kind == "convolutional":
            n, k = int(layer["filters"]), int(layer["size"])
            s = int(layer.get("stride", 1))
            pad = k // 2 if int(layer.get("pad", 0)) else int(layer.get("padding", 0))
            if int(layer.get("batch_normalize", 0)):
                beta, gamma, mean, var = take(n), take(n), take(n), take(n)
                w = take(n * prev_c * k * k).reshape(n, prev_c, k, k)
                scale = gamma / (np.sqrt(var) + 1e-6)
                w = w * scale[:, None, None, None]
                b = beta - mean * scale
            else:
                b = take(n)
                w = take(n * prev_c * k * k).reshape(n, prev_c, k, k)
            inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}_w"))
            inits.append(numpy_helper.from_array(b.astype(np.float32), f"{name}_b"))
            conv_out = name if layer.get("activation", "linear") == "linear" else f"{name}_conv"
            nodes.append(
                helper.make_node(
                    "Conv",
                    [prev, f"{name}_w", f"{name}_b"],
                    [conv_out],
                    kernel_shape=[k, k],
                    strides=[s, s],
                    pads=[pad, pad, pad, pad],
                )
            )
            act = layer.get("activation", "linear")
            if act == "leaky":
                nodes.append(helper.make_node("LeakyRelu", [conv_out], [name], alpha=0.1))
            elif act != "linear":
                raise ValueError(f"activation {act!r} is not supported")
            prev, prev_c = name, n
            stride *= s
        elif kind == "maxpool":
            k, s = int(layer["size"]), int(layer["stride"])
            # With stride 1 Darknet keeps the size: the window runs over the right/bottom edge.
            pads = [0, 0, k - 1, k - 1] if s == 1 else [0, 0, 0, 0]
            nodes.append(
                helper.make_node(
                    "MaxPool", [prev], [name], kernel_shape=[k, k], strides=[s, s], pads=pads
                )
            )
            prev = name
            stride *= s
        elif kind == "upsample":
            s = int(layer["stride"])
            scales = f"{name}_scales"
            inits.append(numpy_helper.from_array(np.array([1, 1, s, s], dtype=np.float32), scales))
            nodes.append(
                helper.make_node(
                    "Resize", [prev, "", scales], [name], mode="nearest", nearest_mode="floor"
                )
            )
            prev = name
            stride //= s
        elif kind == "route":
            refs = [r if r >= 0 else i + r for r in _ints(layer["layers"])]
            if len(refs) == 1:
                prev, prev_c = names[refs[0]], channels[refs[0]]
            else:
                nodes.append(helper.make_node("Concat", [names[r] for r in refs], [name], axis=1))
                prev, prev_c = name, sum(channels[r] for r in refs)
            stride = stride_of[refs[0]]
        elif kind == "yolo":
            anchors = _ints(layer["anchors"])
            pairs = [(anchors[2 * j], anchors[2 * j + 1]) for j in range(len(anchors) // 2)]
            mask = (masks or {}).get(len(outputs), _ints(layer["mask"]))
            out_name = f"yolo{len(outputs)}"
            nodes.append(helper.make_node("Identity", [prev], [out_name]))
            outputs.append(out_name)
            yolo_meta.append(
                {
                    "output": out_name,
                    "stride": stride,
                    "anchors": [list(pairs[m]) for m in mask],
                    "classes": int(layer["classes"]),
                }
            )
        else:
            raise ValueError(f"layer kind {kind!r} is not supported")
        names.append(prev)
        channels.append(prev_c)
        stride_of.append(stride)
    if pos != floats.size:
        raise ValueError(f"{floats.size - pos} weights left over: the cfg does not match")
    graph = helper.make_graph(
        nodes,
        out.stem,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [
            helper.make_tensor_value_info(o, TensorProto.FLOAT, ["n", None, None, None])
            for o in outputs
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = model.metadata_props.add()
    meta.key, meta.value = "yolo_layers", json.dumps(yolo_meta)
    onnx.checker.check_model(model)
    out.write_bytes(model.SerializeToString())


if __name__ == "__main__":
    args, overrides = sys.argv[1:4], sys.argv[4:]
    if len(args) != 3 or len(overrides) % 2 or any(o != "--mask" for o in overrides[::2]):
        sys.exit("usage: darknet_to_onnx.py NET.cfg NET.weights OUT.onnx [--mask K=A,B,C ...]")
    fixes = {}
    for spec in overrides[1::2]:
        k, v = spec.split("=", 1)
        fixes[int(k)] = _ints(v)
    convert(Path(args[0]), Path(args[1]), Path(args[2]), fixes)
