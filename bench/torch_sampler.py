#!/usr/bin/env python3
"""PyTorch peer of `pixelcnn bench --sample`: the straightforward sampler (one full forward pass of
the residual PixelCNN per pixel and colour, as src/sample/naive.ts) on the same architecture
(7×7 type-A masked conv C→h, R residual blocks ReLU→1×1(h→h/2)→ReLU→3×3 B→ReLU→1×1(h/2→h) +
residual, ReLU→1×1(h→d)→ReLU→1×1(d→C·L), colour masks) with random weights, 28×28, L = 256.
Masks are multiplied into dense weights. The naive sampler is timed over a few positions and
extrapolated to all C·H·W positions. Not run by the tests. Prints one JSON object:
  {"torch": version, "threads": n, "config": {...}, "note": ..., "results": [{"batch", "naive_images_per_s", ...}]}
Usage: torch_sampler.py [--threads N] [--positions P] [--batches 1,16,64] [--hidden 128 --out-hidden 32 --blocks 7]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mask(kind, cout, cin, k, colours):
    m = torch.ones(cout, cin, k, k)
    c = k // 2
    m[:, :, c, c + 1:] = 0
    m[:, :, c + 1:, :] = 0
    co = torch.arange(cout) % colours
    ci = torch.arange(cin) % colours
    allowed = (ci[None, :] < co[:, None]) if kind == 'A' else (ci[None, :] <= co[:, None])
    m[:, :, c, c] = allowed.float()
    return m


class MaskedConv(nn.Conv2d):
    def __init__(self, kind, cin, cout, k, colours):
        super().__init__(cin, cout, k, padding=k // 2)
        with torch.no_grad():
            self.weight.mul_(mask(kind, cout, cin, k, colours))


class PixelCnn(nn.Module):
    def __init__(self, C, L, h, d, R):
        super().__init__()
        self.C, self.L = C, L
        self.input = MaskedConv('A', C, h, 7, C)
        self.blocks = nn.ModuleList(nn.ModuleList([MaskedConv('B', h, h // 2, 1, C), MaskedConv('B', h // 2, h // 2, 3, C),
                                                   MaskedConv('B', h // 2, h, 1, C)]) for _ in range(R))
        self.out1 = MaskedConv('B', h, d, 1, C)
        self.out2 = MaskedConv('B', d, C * L, 1, C)

    def forward(self, x):
        h = self.input(x)
        for c1, c2, c3 in self.blocks:
            h = h + c3(F.relu(c2(F.relu(c1(F.relu(h))))))
        return self.out2(F.relu(self.out1(F.relu(h))))


def naive_positions(model, B, C, H, W, L, positions, gen):
    x = torch.zeros(B, C, H, W)
    total = C * H * W
    with torch.no_grad():
        for pos in range(total - positions, total):
            p, c = divmod(pos, C)
            y, xx = divmod(p, W)
            logits = model(x).view(B, L, C, H, W)[:, :, c, y, xx]  # filter k·C + c
            v = torch.multinomial(F.softmax(logits, dim=1), 1, generator=gen).squeeze(1)
            x[:, c, y, xx] = v.float() / (L - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    ap.add_argument('--positions', type=int, default=4)
    ap.add_argument('--batches', default='1,16,64')
    ap.add_argument('--channels', type=int, default=1)
    ap.add_argument('--size', type=int, default=28)
    ap.add_argument('--levels', type=int, default=256)
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--out-hidden', type=int, default=32)
    ap.add_argument('--blocks', type=int, default=7)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    C, H, W, L = a.channels, a.size, a.size, a.levels
    model = PixelCnn(C, L, a.hidden, a.out_hidden, a.blocks).eval()
    total = C * H * W
    P = min(a.positions, total)
    gen = torch.Generator().manual_seed(1)
    naive_positions(model, 1, C, H, W, L, 1, gen)  # warm up
    results = []
    for B in [int(b) for b in a.batches.split(',')]:
        t0 = time.perf_counter()
        naive_positions(model, B, C, H, W, L, P, gen)
        measured = time.perf_counter() - t0
        seconds = measured * total / P
        results.append({'batch': B, 'naive_images_per_s': B / seconds, 'naive_seconds_extrapolated': seconds,
                        'naive_seconds_measured': measured, 'naive_positions_measured': P})
    print(json.dumps({
        'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'config': {'channels': C, 'height': H, 'width': W, 'levels': L, 'hidden': a.hidden, 'outHidden': a.out_hidden, 'blocks': a.blocks},
        'note': f'naive: measured over {P} of {total} positions and extrapolated',
        'results': results,
    }))


if __name__ == '__main__':
    main()
