#!/usr/bin/env python3
"""Writes test/golden/: small checkpoints made by the PyTorch twin, fixed inputs, the outputs
PyTorch computes for them and the per-image NLL of the inputs' levels, so test/torch.test.ts checks the TypeScript models against PyTorch on
machines without PyTorch. Rerun (and commit the result) only when an architecture changes on
purpose; bump GOLDEN_VERSION when the layout of these files changes. Naming cases rewrites only
those (a new case, an architecture that changed) and keeps the others' files and manifest entries
as they are (each case's seeds come from its place in CASES, so append new ones).

  /usr/bin/python3 python/make_golden.py test/golden [CASE ...]
"""
import json
import os
import shutil
import sys

import torch

from pixelcnn_torch.checkpoint import save_checkpoint, write_file_atomic
from pixelcnn_torch.config import parse_model_config
from pixelcnn_torch.likelihood import nll_per_image
from pixelcnn_torch.models import create_model
from pixelcnn_torch.safetensors import encode

GOLDEN_FORMAT, GOLDEN_VERSION = 'pixelcnn-golden-logits', 2
BASE = {'height': 6, 'width': 5}
CASES = {
    'pixelcnn-rgb-softmax': {'arch': 'pixelcnn', 'channels': 3, 'levels': 4, 'likelihood': 'softmax', 'numClasses': 0,
                             'hidden': 8, 'outHidden': 6, 'blocks': 2},
    'pixelcnn-gray-sigmoid': {'arch': 'pixelcnn', 'channels': 1, 'levels': 2, 'likelihood': 'sigmoid', 'numClasses': 0,
                              'hidden': 6, 'outHidden': 4, 'blocks': 1},
    'gated-rgb-conditional': {'arch': 'gated', 'channels': 3, 'levels': 4, 'likelihood': 'softmax', 'numClasses': 3,
                              'hidden': 8, 'outHidden': 6, 'layers': 3, 'kernel': 3, 'firstKernel': 5},
    'gated-gray-sigmoid': {'arch': 'gated', 'channels': 1, 'levels': 2, 'likelihood': 'sigmoid', 'numClasses': 0,
                           'hidden': 4, 'outHidden': 4, 'layers': 2, 'kernel': 3, 'firstKernel': 3},
    'pixelcnn++-rgb-conditional-mixture': {'arch': 'pixelcnn++', 'channels': 3, 'levels': 256, 'likelihood': 'logistic-mixture',
                                           'mixtures': 3, 'numClasses': 3, 'filters': 4, 'resnets': 1, 'dropout': 0.5},
    'pixelcnn++-gray-softmax': {'arch': 'pixelcnn++', 'channels': 1, 'levels': 4, 'likelihood': 'softmax', 'numClasses': 0,
                                'filters': 3, 'resnets': 0, 'dropout': 0.1},
    'gated-gray-mixture': {'arch': 'gated', 'channels': 1, 'levels': 16, 'likelihood': 'logistic-mixture', 'mixtures': 2,
                           'numClasses': 0, 'hidden': 4, 'outHidden': 4, 'layers': 2, 'kernel': 3, 'firstKernel': 3},
    'pixelcnn++-rgb-weight-norm': {'arch': 'pixelcnn++', 'channels': 3, 'levels': 8, 'likelihood': 'softmax', 'numClasses': 2,
                                   'filters': 3, 'resnets': 1, 'dropout': 0, 'weightNorm': True},
}


def main(out, only):
    unknown = [n for n in only if n not in CASES]
    if unknown:
        sys.exit(f'make_golden.py: unknown case(s) {", ".join(unknown)}; known: {", ".join(CASES)}')
    os.makedirs(out, exist_ok=True)
    kept = {}
    if only:
        with open(os.path.join(out, 'manifest.json')) as f:
            kept = {c['name']: c for c in json.load(f)['cases']}
    cases = []
    for i, (name, raw) in enumerate(CASES.items()):
        if only and name not in only:
            if name in kept:
                cases.append(kept[name])
            continue
        cfg = parse_model_config({**raw, **BASE})
        torch.manual_seed(100 + i)
        model = create_model(cfg).eval()
        if cfg.get('weightNorm'):
            with torch.no_grad():  # gains away from ‖v‖ (w = v at init), so that the normalisation is tested
                for n, p in model.named_parameters():
                    if n.endswith('.weight_g'):
                        p.mul_(torch.linspace(0.5, 1.5, p.numel()).reshape(p.shape))
        ck = os.path.join(out, name)
        shutil.rmtree(ck, ignore_errors=True)
        save_checkpoint(ck, cfg, dict(model.named_parameters()))
        g = torch.Generator().manual_seed(200 + i)
        B, L = 3, cfg['levels']
        labels = torch.randint(0, L, (B, cfg['channels'], cfg['height'], cfg['width']), generator=g)
        x = labels.float() / (L - 1)
        tensors = {'x': x}
        classes = None
        if cfg['numClasses'] > 0:
            classes = torch.arange(B) % cfg['numClasses']
            tensors['classes'] = classes.float()
        with torch.no_grad():
            tensors['logits'] = model(x, classes)
            tensors['nll'] = nll_per_image(tensors['logits'], labels, cfg)
        io = f'{name}.safetensors'
        write_file_atomic(os.path.join(out, io), encode(tensors, {'format': 'pt'}))
        cases.append({'name': name, 'checkpoint': name, 'io': io})
    manifest = {'format': GOLDEN_FORMAT, 'version': GOLDEN_VERSION, 'torch': torch.__version__,
                'note': 'written by python/make_golden.py; x (B, C, H, W) = level / (L - 1) in [0, 1], classes (float32) when conditional, logits (the model output), nll (B, nats) of the levels round(x (L - 1))',
                'cases': cases}
    write_file_atomic(os.path.join(out, 'manifest.json'), json.dumps(manifest, indent=2) + '\n')


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: make_golden.py OUT_DIR [CASE ...]')
    main(sys.argv[1], sys.argv[2:])
