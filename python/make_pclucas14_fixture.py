#!/usr/bin/env python3
"""Writes test/pclucas14/: state dicts made by the PyTorch PixelCNN++ port pclucas14/pixel-cnn-pp
itself and the per-image NLL its own loss gives them on a fixed batch, so that test/torch.test.ts
checks the importer (python3 -m pixelcnn_torch import-pclucas14) and our models against the port.
It does not run in CI: it needs the port's source, a bare git mirror of
https://github.com/pclucas14/pixel-cnn-pp. Rerun (and commit the result) only when the fixture's
layout changes.

  /usr/bin/python3 python/make_pclucas14_fixture.py /work/.mirror/pclucas14+pixel-cnn-pp/repo test/pclucas14

The port's code runs unchanged but for two patches in its utils.py, both needed on a current
Python and PyTorch without a GPU: a Python 2 `print e` becomes print(e), and the loss functions'
`torch.zeros(...).cuda()` stays on the CPU.

Each case is a tiny port model (nr_filters 6, nr_resnet 1, nr_logistic_mix 3) with PyTorch's
default initialisation, its weight-norm gains g moved away from ‖v‖ and the output layer's scaled
up and its log-scales lowered (so that means, scales and the colour coefficients vary), saved as `torch.save(model.state_dict())`
does in the port's main.py (the gray one as nn.DataParallel saves it: keys prefixed `module.`). The
reference NLL is the port's forward and discretized_mix_logistic_loss(_1d) in float64 on those
float32 weights, one image at a time: −ln p(image) in nats, our nllPerImage's unit. The float32
numbers are stored beside it (the port's own rounding, for information)."""
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import torch

FIXTURE_FORMAT, FIXTURE_VERSION = 'pixelcnn-pclucas14-fixture', 1
PATCHES = [('print e\r\n', 'print(e)\r\n', 'utils.py: Python 2 print statement'),
           ('torch.zeros(xs + [nr_mix]).cuda()', 'torch.zeros(xs + [nr_mix])', 'utils.py: the losses call .cuda() unconditionally')]
CASES = [
    # name, colours, height, width, saved through nn.DataParallel
    ('rgb', 3, 8, 8, False),
    ('gray', 1, 12, 12, True),
]
NR_FILTERS, NR_RESNET, NR_MIX, BATCH = 6, 1, 3, 3


def export_port(mirror, into):
    """The port's files at the mirror's HEAD, patched (PATCHES); returns the commit."""
    commit = subprocess.run(['git', '--git-dir', mirror, 'rev-parse', 'HEAD'], check=True, capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(['git', '--git-dir', mirror, 'archive', 'HEAD'], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(into)
    path = os.path.join(into, 'utils.py')
    with open(path, newline='') as f:
        text = f.read()
    for old, new, what in PATCHES:
        if old not in text:
            sys.exit(f'make_pclucas14_fixture.py: patch "{what}" does not apply to {path}')
        text = text.replace(old, new)
    with open(path, 'w', newline='') as f:
        f.write(text)
    return commit


def level_batch(C, H, W, seed):
    """Random levels (BATCH, C, H, W), every tenth value the lowest or the highest (the tails)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 256, (BATCH, C, H, W), generator=g)
    flat = labels.view(-1)
    flat[3::10] = 0
    flat[7::10] = 255
    return labels


def main(mirror, out):
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        commit = export_port(mirror, tmp)
        sys.path.insert(0, tmp)
        import model as port_model  # the port's model.py (its layers.py and utils.py beside it)
        import utils as port_utils
        cases = []
        for i, (name, C, H, W, parallel) in enumerate(CASES):
            torch.manual_seed(10 + i)
            m = port_model.PixelCNN(nr_resnet=NR_RESNET, nr_filters=NR_FILTERS, nr_logistic_mix=NR_MIX, input_channels=C)
            with torch.no_grad():
                for n, p in m.named_parameters():
                    if n.endswith('.weight_g'):
                        p.mul_(torch.empty_like(p).uniform_(0.5, 1.5) * (4 if n.startswith('nin_out.') else 1))
                # Narrower logistics than the flat ones of the default init: the port's log-scale
                # filters (per colour after the K mixture logits: K means, K log-scales, K coefficients) lowered.
                per = 3 * NR_MIX if C == 3 else 2 * NR_MIX
                for c in range(C):
                    start = NR_MIX + c * per + NR_MIX
                    m.nin_out.lin_a.bias[start:start + NR_MIX] -= 1.5
            state = (torch.nn.DataParallel(m) if parallel else m).state_dict()
            pth = f'{name}.pth'
            torch.save(state, os.path.join(out, pth))

            labels = level_batch(C, H, W, 20 + i)
            loss = port_utils.discretized_mix_logistic_loss if C == 3 else port_utils.discretized_mix_logistic_loss_1d

            def nll(dtype):
                # A fresh model per dtype: the port caches its ones plane at the first batch's size.
                net = port_model.PixelCNN(nr_resnet=NR_RESNET, nr_filters=NR_FILTERS, nr_logistic_mix=NR_MIX, input_channels=C)
                net.load_state_dict(m.state_dict())
                net = net.to(dtype).eval()
                default = torch.get_default_dtype()
                torch.set_default_dtype(dtype)  # the port's ones plane and its loss's zeros take it
                try:
                    with torch.no_grad():
                        x = (labels.to(dtype) / 255 - 0.5) * 2  # main.py: ToTensor, then rescaling to [−1, 1]
                        l = net(x)
                        return [float(loss(x[b:b + 1], l[b:b + 1])) for b in range(BATCH)]
                finally:
                    torch.set_default_dtype(default)

            ref, f32 = nll(torch.float64), nll(torch.float32)
            dims = C * H * W
            cases.append({'name': name, 'pth': pth, 'dataParallel': parallel, 'channels': C, 'height': H, 'width': W,
                          'nr_filters': NR_FILTERS, 'nr_resnet': NR_RESNET, 'nr_logistic_mix': NR_MIX,
                          'shape': list(labels.shape), 'labels': labels.view(-1).tolist(),
                          'nll': ref, 'nll_float32': f32,
                          'bits_per_dim': sum(ref) / (BATCH * dims) / torch.log(torch.tensor(2.0, dtype=torch.float64)).item()})
            print(f'{name}: {os.path.getsize(os.path.join(out, pth))} bytes, NLL {ref} nats (float32: {f32})')
    fixture = {'format': FIXTURE_FORMAT, 'version': FIXTURE_VERSION, 'torch': torch.__version__,
               'port': {'repo': 'https://github.com/pclucas14/pixel-cnn-pp', 'commit': commit, 'patches': [p[2] for p in PATCHES]},
               'note': 'written by python/make_pclucas14_fixture.py; labels (shape B, C, H, W, flattened) are levels in [0, 255]; '
                       'nll: -ln p of each image in nats by the port\'s forward and loss in float64 (nll_float32: the same in float32)',
               'cases': cases}
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        f.write(json.dumps(fixture) + '\n')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: make_pclucas14_fixture.py PORT_GIT_DIR OUT_DIR')
    main(sys.argv[1], sys.argv[2])
