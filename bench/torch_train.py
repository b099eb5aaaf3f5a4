#!/usr/bin/env python3
"""PyTorch peer for `pixelcnn bench`: trains the same model (the PyTorch twin's, python/pixelcnn_torch) on
random labels with Adam, same batch, and prints one JSON object with train_images_per_s. It takes the
model flags of `pixelcnn bench` (any architecture and likelihood; PixelCNN++ trains with its dropout) and
runs PyTorch at its best: all cores (--threads) and denormals flushed to zero (--keep-denormals to not).

  /usr/bin/python3 bench/torch_train.py --levels 256 --hidden 128 --out-hidden 32 --blocks 7 --batch 32 --steps 20
  /usr/bin/python3 bench/torch_train.py --arch pixelcnn++ --filters 32 --resnets 1 --likelihood logistic-mixture --mixtures 10
"""
import argparse, json, os, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
from pixelcnn_torch.config import parse_model_config  # noqa: E402
from pixelcnn_torch.likelihood import loss as nll_loss, model_input  # noqa: E402
from pixelcnn_torch.models import ARCHS, create_model  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--arch', choices=list(ARCHS), default='pixelcnn')
p.add_argument('--likelihood', choices=['softmax', 'sigmoid', 'logistic-mixture'], default='softmax')
p.add_argument('--mixtures', type=int)
p.add_argument('--dropout', type=float, default=0.1)
p.add_argument('--keep-denormals', action='store_true')
for name, default in [('levels', 256), ('hidden', 128), ('out-hidden', 32), ('blocks', 7), ('layers', 8), ('kernel', 3),
                      ('first-kernel', 7), ('filters', 32), ('resnets', 1), ('batch', 32), ('steps', 20), ('warmup-steps', 2),
                      ('channels', 1), ('size', 28), ('threads', os.cpu_count())]:
    p.add_argument(f'--{name}', type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
flushed = not a.keep_denormals and torch.set_flush_denormal(True)
torch.manual_seed(1)
C, L, S = a.channels, a.levels, a.size
raw = {'arch': a.arch, 'channels': C, 'levels': L, 'likelihood': a.likelihood, 'height': S, 'width': S, 'numClasses': 0}
if a.mixtures is not None:
    raw['mixtures'] = a.mixtures
raw.update({'hidden': a.hidden, 'outHidden': a.out_hidden, 'layers': a.layers, 'kernel': a.kernel, 'firstKernel': a.first_kernel}
           if a.arch == 'gated' else {'filters': a.filters, 'resnets': a.resnets, 'dropout': a.dropout}
           if a.arch == 'pixelcnn++' else {'hidden': a.hidden, 'outHidden': a.out_hidden, 'blocks': a.blocks})
cfg = parse_model_config(raw, where='bench/torch_train.py')
model = create_model(cfg).train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
targets = torch.randint(0, L, (a.batch, C, S, S), dtype=torch.uint8)
x = model_input(targets, L)


def step():
    loss = nll_loss(model(x), targets, cfg)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(a.warmup_steps):
    step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
sec = time.perf_counter() - t0
print(json.dumps({'peer': 'pytorch', 'torch': torch.__version__, 'arch': cfg['arch'], 'likelihood': cfg['likelihood'],
                  'threads': torch.get_num_threads(), 'flush_denormal': bool(flushed), 'batch': a.batch,
                  'steps': a.steps, 'seconds': sec, 'train_images_per_s': a.batch * a.steps / sec}))
