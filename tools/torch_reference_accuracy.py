#!/usr/bin/python3
"""The reference example in PyTorch, for the accuracy band quoted in the
README: Linear(784,64) ReLU Dropout(0.5) Linear(64,10), Glorot-uniform
kernels, zero biases, cross-entropy + 0.01 * sum(W^2) over both kernels
(Keras' kernel_regularizer), Adam lr 1e-3 eps 1e-7, batch 32, 10 epochs,
one thread, Fashion-MNIST from Debian's dataset-fashion-mnist.  Prints the
test accuracy of each seed given on the command line.

Run: /usr/bin/python3 tools/torch_reference_accuracy.py 1 2 3
"""
import gzip, struct, sys, torch, numpy as np
def load(p, img):
    b = gzip.open(p).read()
    if img:
        n, r, c = struct.unpack('>III', b[4:16]); return torch.from_numpy(np.frombuffer(b, np.uint8, offset=16).reshape(n, r*c).astype(np.float32) / 255)
    return torch.from_numpy(np.frombuffer(b, np.uint8, offset=8).astype(np.int64))
d='/usr/share/datasets/fashion-mnist/'
xt, yt = load(d+'train-images-idx3-ubyte.gz',1), load(d+'train-labels-idx1-ubyte.gz',0)
xs, ys = load(d+'t10k-images-idx3-ubyte.gz',1), load(d+'t10k-labels-idx1-ubyte.gz',0)
for seed in map(int, sys.argv[1:]):
    torch.manual_seed(seed)
    l1, l2 = torch.nn.Linear(784,64), torch.nn.Linear(64,10)
    for l in (l1,l2): torch.nn.init.xavier_uniform_(l.weight); torch.nn.init.zeros_(l.bias)
    net = torch.nn.Sequential(l1, torch.nn.ReLU(), torch.nn.Dropout(0.5), l2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    for ep in range(10):
        net.train(); perm = torch.randperm(60000)
        for i in range(0, 60000, 32):
            idx = perm[i:i+32]
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]) + 0.01*(l1.weight**2).sum() + 0.01*(l2.weight**2).sum()
            opt.zero_grad(); loss.backward(); opt.step()
    net.eval()
    with torch.no_grad(): acc = (net(xs).argmax(1) == ys).float().mean().item()
    print(f"torch seed {seed}: test_acc {acc:.4f}", flush=True)
