#!/usr/bin/env python3
"""PyTorch peer for `pixelcnn bench`: trains the same PixelCNN (the PyTorch twin's, python/pixelcnn_torch) on
random labels with Adam, same batch, and prints one JSON object with train_images_per_s.

  /usr/bin/python3 bench/torch_train.py --levels 256 --hidden 128 --out-hidden 32 --blocks 7 --batch 32 --steps 20
"""
import argparse, json, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
from pixelcnn_torch.config import parse_model_config  # noqa: E402
from pixelcnn_torch.models import create_model  # noqa: E402

p = argparse.ArgumentParser()
for name, default in [('levels', 256), ('hidden', 128), ('out-hidden', 32), ('blocks', 7), ('batch', 32),
                      ('steps', 20), ('warmup-steps', 2), ('channels', 1), ('size', 28), ('threads', os.cpu_count())]:
    p.add_argument(f'--{name}', type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
C, L, S = a.channels, a.levels, a.size
model = create_model(parse_model_config({'arch': 'pixelcnn', 'channels': C, 'levels': L, 'height': S, 'width': S,
                                         'hidden': a.hidden, 'outHidden': a.out_hidden, 'blocks': a.blocks}, where='bench/torch_train.py', defaults=True))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
targets = torch.randint(0, L, (a.batch, C, S, S))
x = targets.float() / (L - 1)


def step():
    logits = model(x).view(a.batch, L, C, S, S)  # filter o = k*C + c
    loss = F.cross_entropy(logits, targets)
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
print(json.dumps({'peer': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batch': a.batch,
                  'steps': a.steps, 'seconds': sec, 'train_images_per_s': a.batch * a.steps / sec}))
