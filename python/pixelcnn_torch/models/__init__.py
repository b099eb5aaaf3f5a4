"""The architectures, one module each. A module provides SPEC (its ConfigSpec: arch, title, fields,
defaults, rules, as in src/models/config.ts) and Model (an nn.Module whose state_dict has our
checkpoint's names and shapes; forward(x, classes=None) → logits, filter o = k·C + c).
A new architecture (PixelCNN++) is one more module and one line in ARCHS."""
from . import gated, pixelcnn

ARCHS = {'pixelcnn': pixelcnn, 'gated': gated}


def create_model(config):
    """The model of a parsed config (config.parse_model_config)."""
    return ARCHS[config['arch']].Model(config)


def logit_channels(config):
    """Output filters: L per colour for softmax, 1 for sigmoid (model.ts logitChannels)."""
    return (1 if config['likelihood'] == 'sigmoid' else config['levels']) * config['channels']
