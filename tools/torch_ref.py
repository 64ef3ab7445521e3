#!/usr/bin/python3
"""torch_ref.py — writes tests/data/torch_ref.json, the PyTorch reference that
tests/train/test_torch_ref.c holds regula to.

Run with Debian's python (python3-torch):  /usr/bin/python3 tools/torch_ref.py
The output is committed, so building and testing regula needs no torch.

For each case (a model spec in regula's syntax) the dump holds:
  - initial weights of every dense layer (Glorot-uniform kernels and small
    random biases drawn by torch, not regula's initialiser: the test writes
    them into regula's arena, so only the math is compared);
  - 10 batches of 8 samples (float32 inputs, int labels);
  - the loss on batch 0 and every gradient at the initial weights;
  - for each optimizer run, the loss before each of 10 steps and the weights
    after the last one.

It mirrors regula's semantics, in float32:
  - dense: y = act(x W^T + b), W [out, in]; dropout is off (identity);
  - the logits are the last layer's pre-activation when its activation is
    softmax or linear, otherwise act(z) (e.g. tanh) fed to a softmax;
  - loss = mean over the batch of cross-entropy against the target
    (1-ls)*onehot + ls/K (a case's "loss": bce, from the sigmoid's logit,
    against y(1-ls) + ls/2; mse or mae on float targets), plus sum over kernels (not biases) of
    l1*sum|W| + l2*sum W^2 (Keras style, no 1/2); autograd differentiates
    the penalty, so SGD and Adam see it in the gradient;
  - torch.optim.SGD / Adam / AdamW / RMSprop updates, eps = 1e-7 (regula's
    default) unless a run says otherwise; RMSprop's alpha is regula's rho;
  - optional clip_grad_norm_ after the penalty gradient is in.

Every float is written as repr() of the float32 value widened to a Python
float, so parsing it as a double and narrowing to float gives the exact
float32 back.
"""
import json
import os
import re
import sys

import torch
import torch.nn.functional as F

BATCH = 8
STEPS = 10
EPS = 1e-7

CASES = [
    # name, inputs, spec
    ("tanh_gelu_softmax", 12,
     "dense(16, tanh, l1=0.001) dense(12, gelu, l2=0.01) dense(5, softmax, l2=0.005)"),
    ("relu_sigmoid_linear", 10,
     "dense(8, relu, l2=0.01) dense(6, sigmoid) dense(4, linear, l1=0.01, l2=0.01)"),
    # last activation tanh: logits = tanh(z); dropout present but off; no bias
    ("gelu_dropout_tanh", 16,
     "dense(10, gelu, l2=0.001, bias=false) dropout(0.5) dense(6, tanh, l1=0.002)"),
    # appended cases keep the random draws of the ones above
    ("leaky_elu", 9, "dense(10, leaky_relu, l2=0.01) dense(8, elu) dense(4, softmax)"),
    # other losses (a fourth field): binary from the sigmoid's logit, and
    # regression on float targets
    ("bce", 7, "dense(8, elu, l2=0.01) dense(1, sigmoid)", "bce"),
    ("mse", 7, "dense(8, tanh, l1=0.001) dense(1, linear)", "mse"),
    ("mae", 7, "dense(8, leaky_relu) dense(1, linear, l2=0.01)", "mae"),
]

RUNS = [
    dict(name="sgd_momentum", opt="sgd", lr=0.1, momentum=0.9),
    dict(name="sgd_nesterov", opt="sgd", lr=0.1, momentum=0.9, nesterov=1),
    dict(name="adam", opt="adam", lr=0.01),
    dict(name="adamw", opt="adamw", lr=0.01, weight_decay=0.1),
    dict(name="adam_label_smoothing", opt="adam", lr=0.01, label_smoothing=0.1),
    dict(name="sgd_clip_norm", opt="sgd", lr=0.1, momentum=0.9, clip_norm=0.5),
    dict(name="rmsprop", opt="rmsprop", lr=0.01, rho=0.99, eps=1e-8),
    dict(name="rmsprop_momentum", opt="rmsprop", lr=0.01, rho=0.9, momentum=0.5),
]

ACTS = {
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,              # alpha 1
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,            # exact erf form
    "linear": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def parse_spec(spec):
    """Regula's spec grammar, just enough for the cases above."""
    layers = []
    for kind, args in re.findall(r"(\w+)\(([^)]*)\)", spec):
        parts = [a.strip() for a in args.split(",") if a.strip()]
        if kind == "dropout":
            layers.append(dict(kind="dropout", rate=float(parts[0])))
            continue
        assert kind == "dense", kind
        d = dict(kind="dense", units=int(parts[0]), act="linear", l1=0.0, l2=0.0,
                 bias=True)
        for p in parts[1:]:
            if "=" in p:
                k, v = (s.strip() for s in p.split("="))
                if k == "bias":
                    d["bias"] = v == "true"
                else:
                    d[k] = float(v)
            else:
                d["act"] = p
        layers.append(d)
    return layers


def init_params(layers, n_in):
    params = []
    for L in layers:
        if L["kind"] != "dense":
            continue
        w = torch.empty(L["units"], n_in, dtype=torch.float32)
        torch.nn.init.xavier_uniform_(w)
        b = None
        if L["bias"]:
            b = torch.empty(L["units"], dtype=torch.float32).uniform_(-0.1, 0.1)
        params.append((w, b))
        n_in = L["units"]
    return params


def data_loss(h, y, ls, loss):
    """The mean over the batch of regula's loss on the logits h."""
    if loss == "bce":                     # Keras' smoothing: y(1-ls) + ls/2
        t = y.to(torch.float32) * (1.0 - ls) + 0.5 * ls
        return F.binary_cross_entropy_with_logits(h[:, 0], t)
    if loss == "mse":                     # regression ignores label smoothing
        return ((h[:, 0] - y) ** 2).mean()
    if loss == "mae":
        return (h[:, 0] - y).abs().mean()
    k = h.shape[1]
    target = (1.0 - ls) * F.one_hot(y, k).to(torch.float32) + ls / k
    return -(target * torch.log_softmax(h, dim=1)).sum(dim=1).mean()


def loss_fn(layers, params, x, y, ls, loss="crossentropy"):
    h = x
    dense = [L for L in layers if L["kind"] == "dense"]
    last = len(dense) - 1
    i = 0
    pen = torch.zeros((), dtype=torch.float32)
    for L in layers:
        if L["kind"] == "dropout":
            continue                      # dropout off: identity
        w, b = params[i]
        z = h @ w.t()
        if b is not None:
            z = z + b
        if i == last and (L["act"] in ("softmax", "linear") or
                          (loss == "bce" and L["act"] == "sigmoid")):
            h = z                         # logits
        else:
            h = ACTS[L["act"]](z)
        if L["l1"]:
            pen = pen + L["l1"] * w.abs().sum()
        if L["l2"]:
            pen = pen + L["l2"] * (w * w).sum()
        i += 1
    return data_loss(h, y, ls, loss) + pen


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def leaves(params):
    out = []
    for w, b in params:
        out.append(w)
        if b is not None:
            out.append(b)
    return out


def clone_params(params):
    return [(w.clone().requires_grad_(True),
             None if b is None else b.clone().requires_grad_(True))
            for w, b in params]


def dump_params(params, grad=False):
    out = []
    for w, b in params:
        tw = w.grad if grad else w
        tb = None if b is None else (b.grad if grad else b)
        out.append(dict(w=flat(tw), b=None if tb is None else flat(tb)))
    return out


def run_case(name, n_in, spec, loss="crossentropy"):
    layers = parse_spec(spec)
    params = init_params(layers, n_in)
    k = [L for L in layers if L["kind"] == "dense"][-1]["units"]
    xs = [torch.randn(BATCH, n_in, dtype=torch.float32) for _ in range(STEPS)]
    if loss in ("mse", "mae"):
        ys = [torch.randn(BATCH, dtype=torch.float32) * 2.0 for _ in range(STEPS)]
    else:
        ys = [torch.randint(0, 2 if loss == "bce" else k, (BATCH,)) for _ in range(STEPS)]
    regression = loss in ("mse", "mae")

    p = clone_params(params)
    loss0 = loss_fn(layers, p, xs[0], ys[0], 0.0, loss)
    loss0.backward()
    case = dict(
        name=name, spec=spec, loss=loss, inputs=n_in, classes=k, batch=BATCH,
        init=[dict(out=w.shape[0], **{"in": w.shape[1]}, w=flat(w),
                   b=None if b is None else flat(b)) for w, b in params],
        x=[flat(x) for x in xs],
        y=[[(float(v) if regression else int(v)) for v in y.tolist()] for y in ys],
        loss0=float(loss0.item()),
        grads0=dump_params(p, grad=True),
        runs=[],
    )

    # MAE's gradient is a sum of +-1/n terms: an element that (nearly)
    # cancels has a sign that float32 rounding decides, and Adam, AdamW and
    # RMSprop step every weight by about lr whatever its gradient's size,
    # so their trajectories part at the first such step (SGD's do not: a
    # tiny gradient is a tiny step).  MAE's gradients are checked at batch 0.
    runs = [r for r in RUNS if loss != "mae" or r["opt"] == "sgd"]
    for r in runs:
        r = dict(dict(momentum=0.0, nesterov=0, beta1=0.9, beta2=0.999, eps=EPS, rho=0.99,
                      weight_decay=0.0, label_smoothing=0.0, clip_norm=0.0), **r)
        p = clone_params(params)
        ps = leaves(p)
        if r["opt"] == "sgd":
            opt = torch.optim.SGD(ps, lr=r["lr"], momentum=r["momentum"],
                                  nesterov=bool(r["nesterov"]))
        elif r["opt"] == "rmsprop":
            opt = torch.optim.RMSprop(ps, lr=r["lr"], alpha=r["rho"], eps=r["eps"],
                                      momentum=r["momentum"])
        elif r["opt"] == "adam":
            opt = torch.optim.Adam(ps, lr=r["lr"], betas=(r["beta1"], r["beta2"]),
                                   eps=r["eps"])
        else:
            opt = torch.optim.AdamW(ps, lr=r["lr"], betas=(r["beta1"], r["beta2"]),
                                    eps=r["eps"], weight_decay=r["weight_decay"])
        losses = []
        for t in range(STEPS):
            opt.zero_grad()
            lt = loss_fn(layers, p, xs[t], ys[t], r["label_smoothing"], loss)
            losses.append(float(lt.item()))
            lt.backward()
            if r["clip_norm"]:
                torch.nn.utils.clip_grad_norm_(ps, r["clip_norm"])
            opt.step()
        r["losses"] = losses
        r["final"] = dump_params(p)
        case["runs"].append(r)
    return case


def main():
    torch.manual_seed(20240611)
    torch.set_num_threads(1)
    out = dict(
        generator="tools/torch_ref.py",
        torch=torch.__version__,
        steps=STEPS,
        cases=[run_case(*c) for c in CASES],
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data",
                                                              "torch_ref.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
