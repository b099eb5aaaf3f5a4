"""Masked convolutions as src/nn/masks.ts and src/nn/conv-layer.ts define them: weights in PyTorch
layout (O, I, kh, kw) at their full size, the mask a non-persistent buffer multiplied in by forward
(never written into the weights, never saved), initialised U(±1/sqrt(fan_in)) like ours."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def colour_allows(kind, co, ci):
    """Whether an input filter of colour ci may feed an output filter of colour co at the centre tap."""
    return ci < co if kind == 'A' else ci <= co


def pixelcnn_mask(kind, out_f, in_f, kh, kw, colours):
    """(O, I, kh, kw): taps above the centre row and left of the centre; at the centre the colour
    rule, filter f having colour f mod C (groups of C, interleaved) for inputs and outputs alike."""
    m, cy, cx = torch.zeros(out_f, in_f, kh, kw), kh // 2, kw // 2
    m[:, :, :cy, :] = 1
    m[:, :, cy, :cx] = 1
    co, ci = torch.arange(out_f)[:, None] % colours, torch.arange(in_f)[None, :] % colours
    m[:, :, cy, cx] = (ci < co if kind == 'A' else ci <= co).float()
    return m


class MaskedConv2d(nn.Module):
    """`mask`: None, ('A'|'B', colours) for the PixelCNN mask, or a (O, I, kh, kw) 0/1 tensor.
    fan_in counts every tap for a PixelCNN mask (a full Conv2d with a mask multiplied in) and only
    the live taps for an explicit one (it stands for a smaller kernel), as conv-layer.ts does."""

    def __init__(self, in_f, out_f, kernel, mask=None):
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.padding = (kh // 2, kw // 2)
        self.weight = nn.Parameter(torch.empty(out_f, in_f, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_f))
        taps = kh * kw
        if isinstance(mask, tuple):
            mask = pixelcnn_mask(mask[0], out_f, in_f, kh, kw, mask[1])
        elif mask is not None:
            live = mask.reshape(out_f * in_f, taps).amax(0)
            taps = int(live.sum())
        if mask is not None and bool((mask == 1).all()):
            mask = None  # a mask that keeps everything (a 1×1 type B) is no mask
        self.register_buffer('mask', mask, persistent=False)
        bound = 1 / math.sqrt(in_f * taps)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x):
        w = self.weight if self.mask is None else self.weight * self.mask
        return F.conv2d(x, w, self.bias, padding=self.padding)
