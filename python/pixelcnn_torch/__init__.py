"""A PyTorch twin of the pixelcnn package (TypeScript): the same architectures with the same tensor
names and layouts, the same config.json, likelihoods and bits/dim, and checkpoints that load on
either side without conversion. python/train_ddp.py trains with DistributedDataParallel."""
from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .config import ConfigError, parse_model_config
from .models import ARCHS, create_model

__all__ = ['ARCHS', 'CheckpointError', 'ConfigError', 'create_model', 'load_checkpoint', 'load_model',
           'parse_model_config', 'save_checkpoint']
