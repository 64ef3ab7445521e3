#!/usr/bin/env python3
"""Where a training run's CPU time goes: the leaf symbols of a `perf record`
(-e cpu-clock) profile from the first training step on (loading the data
is left out), as shares of the samples.
  perf record -e cpu-clock -F 4000 -o P.data build/bench_train --model ref --epochs 3
  bench/perf_split.py P.data [TOP]
"""
import sys, subprocess, collections
# leaf samples after the first training-step sample, grouped
data = sys.argv[1]
out = subprocess.run(["perf", "script", "-i", data, "-F", "time,ip,sym,dso"], capture_output=True, text=True).stdout
rows = []
for l in out.splitlines():
    l = l.strip()
    if not l: continue
    parts = l.split(None, 2)
    if len(parts) < 3: continue
    t = float(parts[0].rstrip(':')); rest = parts[1] + " " + parts[2]
    # format: time: addr sym+off (dso)  -> we asked time,dso,sym: "t: sym (dso)"
    rows.append((t, l))
start = None
for t, l in rows:
    if "step_plain" in l or "rg_model_forward" in l or "pass_" in l:
        start = t; break
c = collections.Counter()
n = 0
for t, l in rows:
    if t < start: continue
    body = l.split(":", 1)[1].strip().split(None, 1)[1] if len(l.split(":", 1)[1].split()) > 1 else "?"
    sym = body[:body.rfind("(")].strip() if "(" in body else body
    sym = sym.split("+")[0]
    dso = body[body.rfind("(")+1:-1].split("/")[-1] if "(" in body else "?"
    c[(dso, sym)] += 1; n += 1
print(f"samples after training starts: {n}")
for (dso, sym), k in c.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 30):
    print(f"{100*k/n:6.2f}%  {dso:28s} {sym}")
