#!/usr/bin/env python3
"""Moved: the PyTorch twin of every architecture is the package python/pixelcnn_torch, its
checkpoint tools `PYTHONPATH=python python3 -m pixelcnn_torch logits|eval|init`, training
python/train_ddp.py. This module only keeps `from torch_checkpoint import PixelCNN` working for
bench/torch_train.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
from pixelcnn_torch.models.pixelcnn import Model as PixelCNN  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(__doc__.split('\n\n')[0].replace('\n', ' '))
