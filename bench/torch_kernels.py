#!/usr/bin/env python3
"""PyTorch peer of bench/kernels.ts: the same GEMM (torch.mm) and convolutions
(torch.nn.functional.conv2d forward; backward = grad input + grad weight + grad bias via
torch.ops.aten.convolution_backward, i.e. what autograd runs). Masked convolutions are dense in
PyTorch: the mask is multiplied into the weights. Prints one JSON object:
  {"torch": version, "threads": n, "rows": {name: {"fwd_ms": .., "bwd_ms": ..}}}
Usage: torch_kernels.py --threads N [--min-time S]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def timeit(fn, min_time, min_reps=3, max_reps=200):
    fn()  # warm up
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e3  # median, ms


def conv_row(batch, cin, cout, size, k, taps, min_time):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, size, size, generator=g)
    w = torch.randn(cout, cin, k, k, generator=g) * 0.1
    mask = torch.zeros(k * k)
    mask[list(taps)] = 1
    w = w * mask.view(1, 1, k, k)
    b = torch.randn(cout, generator=g)
    pad = k // 2
    with torch.no_grad():
        out = F.conv2d(x, w, b, padding=pad)
    gout = torch.randn_like(out)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=pad)

    def bwd():
        torch.ops.aten.convolution_backward(gout, x, w, [cout], [1, 1], [pad, pad], [1, 1], False,
                                            [0, 0], 1, [True, True, True])

    return {"fwd_ms": timeit(fwd, min_time), "bwd_ms": timeit(bwd, min_time)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--spec", type=str, required=True, help="JSON list of rows from bench/kernels.ts")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = {}
    for r in json.loads(a.spec):
        if r["kind"] == "gemm":
            n = r["n"]
            g = torch.Generator().manual_seed(0)
            A = torch.randn(n, n, generator=g)
            B = torch.randn(n, n, generator=g)
            C = torch.empty(n, n)
            rows[r["name"]] = {"fwd_ms": timeit(lambda: torch.mm(A, B, out=C), a.min_time)}
        else:
            rows[r["name"]] = conv_row(r["batch"], r["cin"], r["cout"], r["size"], r["k"], r["taps"], a.min_time)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
