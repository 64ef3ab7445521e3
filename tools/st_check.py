#!/usr/bin/python3
"""st_check.py — read a regula checkpoint with PyTorch, independently of regula.

Parses the safetensors layout with struct/json (Debian ships no `safetensors`
package), checks the framing the way the C reader does, prints metadata and
tensors, and rebuilds the model as a torch.nn.Sequential of Linear layers
(plus the activations and dropouts named in the "spec" metadata), then runs
one forward pass on zeros.  Exit status 0 when all of that works.

    /usr/bin/python3 tools/st_check.py model.safetensors [--quiet]
"""
import json
import re
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
    "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
         "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def fail(path, msg):
    sys.exit(f"{path}: {msg}")


def read_safetensors(path):
    """Returns (metadata dict, {name: tensor}) in header order."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail(path, f"file has {len(blob)} bytes, too short")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > 100_000_000 or n > len(blob) - 8:
        fail(path, f"header length {n} does not fit a file of {len(blob)} bytes")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = bytearray(blob[8 + n:])
    meta = header.pop("__metadata__", None) or {}
    tensors, spans = {}, []
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        if not (0 <= b <= e <= len(data)) or e - b != numel * SIZES[dt]:
            fail(path, f"tensor '{name}': data_offsets [{b}, {e}] do not match "
                       f"shape {shape} of {dt}")
        spans.append((b, e, name))
        t = torch.frombuffer(data, dtype=DTYPES[dt], count=numel, offset=b) if numel \
            else torch.empty(0, dtype=DTYPES[dt])
        tensors[name] = t.reshape(shape)
    at = 0
    for b, e, name in sorted(spans):
        if b != at:
            fail(path, f"tensor '{name}' begins at {b}, expected {at} (overlap or hole)")
        at = e
    if at != len(data):
        fail(path, f"data has {len(data)} bytes, tensors end at {at}")
    return meta, tensors


ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
        "gelu": torch.nn.GELU, "softmax": lambda: torch.nn.Softmax(dim=1)}


def build_model(path, meta, tensors):
    """nn.Sequential from the spec metadata, weights copied from tensors."""
    spec = meta.get("spec")
    if spec is None:   # plain weights: Linear layers only
        layers = [("dense", [str(tensors[k].shape[0])])
                  for k in tensors if k.endswith(".weight")]
    else:
        layers = [(kind, [a.strip() for a in args.split(",")])
                  for kind, args in re.findall(r"(\w+)\(([^)]*)\)", spec)]
    mods, i = [], 0
    for kind, args in layers:
        if kind == "dropout":
            mods.append(torch.nn.Dropout(float(args[0])))
            continue
        w = tensors.get(f"dense_{i}.weight")
        if w is None:
            fail(path, f"tensor 'dense_{i}.weight' is missing")
        b = tensors.get(f"dense_{i}.bias")
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        with torch.no_grad():
            lin.weight.copy_(w)
            if b is not None:
                lin.bias.copy_(b)
        mods.append(lin)
        act = next((a for a in args[1:] if a in ACTS), None)
        if act:
            mods.append(ACTS[act]())
        i += 1
    extra = set(tensors) - {f"dense_{k}.{s}" for k in range(i) for s in ("weight", "bias")}
    if extra:
        fail(path, f"tensors not in the model: {sorted(extra)}")
    return torch.nn.Sequential(*mods)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    path, quiet = argv[1], "--quiet" in argv[2:]
    meta, tensors = read_safetensors(path)
    if meta.get("format") not in (None, "regula-1"):
        fail(path, f"unknown checkpoint format {meta['format']!r}")
    model = build_model(path, meta, tensors)
    model.eval()
    inputs = int(meta.get("inputs", next(iter(tensors.values())).shape[-1]))
    with torch.no_grad():
        out = model(torch.zeros(2, inputs))
    if not all(torch.isfinite(t.float()).all() for t in tensors.values()):
        fail(path, "non-finite weights")
    if not quiet:
        for k, v in sorted(meta.items()):
            print(f"meta {k} = {v}")
        for name, t in tensors.items():
            print(f"{name:20s} {str(t.dtype):14s} {list(t.shape)}")
        print(model)
        print(f"forward: input [2, {inputs}] -> output {list(out.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
