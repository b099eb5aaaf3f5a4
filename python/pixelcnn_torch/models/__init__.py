"""The architectures, one module each. A module provides SPEC (its ConfigSpec: arch, title, fields,
defaults, rules, as in src/models/config.ts) and Model (an nn.Module whose state_dict has our
checkpoint's names and shapes; forward(x, classes=None) → the likelihood's parameters, slot j of
colour c in filter j·C + c)."""
from . import gated, pixelcnn, pixelcnn_plus_plus

# In the order of config.ts ARCHS (the config reader's messages list them).
ARCHS = {'pixelcnn': pixelcnn, 'gated': gated, 'pixelcnn++': pixelcnn_plus_plus}


def create_model(config):
    """The model of a parsed config (config.parse_model_config)."""
    return ARCHS[config['arch']].Model(config)


def outputs_per_colour(config):
    """Output filters per colour group (model.ts outputsPerColour): L logits (softmax), 1 (sigmoid),
    or the mixture's slots K·max(3, C + 1) (logistic-mixture, ops/logistic-mixture.ts mixtureLayout)."""
    if config['likelihood'] == 'softmax':
        return config['levels']
    if config['likelihood'] == 'sigmoid':
        return 1
    return config['mixtures'] * max(3, config['channels'] + 1)


def output_channels(config):
    """Output filters of a model: outputs_per_colour · C (model.ts outputChannels)."""
    return outputs_per_colour(config) * config['channels']
