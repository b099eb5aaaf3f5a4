"""The Gated PixelCNN of src/models/gated-pixelcnn.ts (read its diagram): per layer l a vertical
k×k convolution over rows ≤ centre (no colour mask), passed on un-shifted; a copy shifted down one
row feeds the horizontal stack through the 1×1 v2h; the horizontal 1×k convolution over taps
≤ centre with the colour rule at the centre (type A in layer 0, B after), output filter o of 2h
having colour (o mod h) mod C; gates tanh(f)·σ(g); the class embedding cond.l (K, 2h) added to both
gates' pre-activations; skip outputs summed; h_l = h_{l−1} + res(u) (layer 0: res(u)); the last
layer has no res and its vertical gate is not computed. Head: ReLU ─ out1 ─ ReLU ─ out2, colour B."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import int_field
from ..layers import MaskedConv2d, colour_allows

DEFAULTS = {'arch': 'gated', 'channels': 1, 'levels': 256, 'likelihood': 'softmax', 'mixtures': 10, 'height': 28, 'width': 28,
            'numClasses': 0, 'hidden': 128, 'outHidden': 32, 'layers': 8, 'kernel': 3, 'firstKernel': 7}

SPEC = {
    'arch': 'gated',
    'title': 'Gated PixelCNN',
    'fields': {'hidden': int_field('channels', 4096), 'outHidden': int_field('channels', 4096),
               'layers': int_field(1, 256), 'kernel': int_field(3, 15, 'odd'), 'firstKernel': int_field(3, 15, 'odd')},
    'defaults': DEFAULTS,
}


def vertical_mask(out_f, in_f, k):
    m = torch.zeros(out_f, in_f, k, k)
    m[:, :, :k // 2 + 1, :] = 1
    return m


def horizontal_mask(kind, out_f, in_f, k, h, colours):
    m, c = torch.zeros(out_f, in_f, 1, k), k // 2
    m[:, :, 0, :c] = 1
    co, ci = (torch.arange(out_f)[:, None] % h) % colours, torch.arange(in_f)[None, :] % colours
    m[:, :, 0, c] = colour_allows(kind, co, ci).float()
    return m


def gate(x):
    h = x.shape[1] // 2
    return torch.tanh(x[:, :h]) * torch.sigmoid(x[:, h:])


class VLayer(nn.Module):
    def __init__(self, in_f, h, k):
        super().__init__()
        self.conv = MaskedConv2d(in_f, 2 * h, k, vertical_mask(2 * h, in_f, k))


class HLayer(nn.Module):
    def __init__(self, index, in_f, h, k, colours, last):
        super().__init__()
        kind = 'A' if index == 0 else 'B'
        self.conv = MaskedConv2d(in_f, 2 * h, (1, k), horizontal_mask(kind, 2 * h, in_f, k, h, colours))
        self.v2h = MaskedConv2d(2 * h, 2 * h, 1)
        if not last:
            self.res = MaskedConv2d(h, h, 1, ('B', colours))
        self.skip = MaskedConv2d(h, h, 1, ('B', colours))


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        from . import output_channels
        self.config = dict(cfg)
        C, h, d, L, K = cfg['channels'], cfg['hidden'], cfg['outHidden'], cfg['layers'], cfg['numClasses']
        ks = [cfg['firstKernel']] + [cfg['kernel']] * (L - 1)
        self.vstack = nn.ModuleList(VLayer(C if l == 0 else h, h, ks[l]) for l in range(L))
        self.hstack = nn.ModuleList(HLayer(l, C if l == 0 else h, h, ks[l], C, l == L - 1) for l in range(L))
        if K > 0:
            self.cond = nn.ModuleList(nn.Embedding(K, 2 * h) for _ in range(L))  # N(0, 1) init, as ours
        self.out1 = MaskedConv2d(h, d, 1, ('B', C))
        self.out2 = MaskedConv2d(d, output_channels(cfg), 1, ('B', C))

    def forward(self, x, classes=None):
        K = self.config['numClasses']
        if K > 0:
            if classes is None:
                raise ValueError(f'Gated PixelCNN: the model is class-conditional ({K} classes): forward needs one class label per image')
            if classes.shape != (x.shape[0],):
                raise ValueError(f'Gated PixelCNN: {tuple(classes.shape)} class labels for a batch of {x.shape[0]} images')
            if len(classes) and (int(classes.min()) < 0 or int(classes.max()) >= K):
                raise ValueError(f'Gated PixelCNN: a class outside [0, {K})')
        v, hh, skips = x, x, None
        L = len(self.vstack)
        for l in range(L):
            hs = self.hstack[l]
            e = self.cond[l](classes)[:, :, None, None] if K > 0 else None
            vp = self.vstack[l].conv(v)
            shifted = F.pad(vp, (0, 0, 1, 0))[:, :, :-1, :]  # row r sees vertical features of rows < r
            hp = hs.v2h(shifted) + hs.conv(hh)
            u = gate(hp if e is None else hp + e)
            s = hs.skip(u)
            skips = s if skips is None else skips + s
            if l == L - 1:
                break
            v = gate(vp if e is None else vp + e)
            hh = hs.res(u) if l == 0 else hh + hs.res(u)
        return self.out2(F.relu(self.out1(F.relu(skips))))
