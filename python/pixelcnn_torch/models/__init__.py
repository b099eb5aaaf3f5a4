"""The architectures, one module each. A module provides SPEC (its ConfigSpec: arch, title, fields,
defaults, rules, as in src/models/config.ts) and Model (an nn.Module whose state_dict has our
checkpoint's names and shapes; forward(x, classes=None) → logits, filter o = k·C + c).
A module without Model (PixelCNN++ for now) is known to the config reader but cannot be built."""
from . import gated, pixelcnn, pixelcnn_plus_plus
from ..config import ConfigError

# In the order of config.ts ARCHS (the config reader's messages list them).
ARCHS = {'pixelcnn': pixelcnn, 'gated': gated, 'pixelcnn++': pixelcnn_plus_plus}
# What the twin can build and train.
IMPLEMENTED = [a for a, m in ARCHS.items() if hasattr(m, 'Model')]
LIKELIHOODS = ('softmax', 'sigmoid')


def check_implemented(config, where=None):
    """A ConfigError (one line, prefixed by `where`) for a parsed config the twin cannot build."""
    problem = (f"the PyTorch twin does not implement arch '{config['arch']}' yet" if config['arch'] not in IMPLEMENTED else
               f"the PyTorch twin does not implement the {config['likelihood']} likelihood yet"
               if config['likelihood'] not in LIKELIHOODS else None)
    if problem:
        raise ConfigError(f'{where}: {problem}' if where else problem)


def create_model(config, where=None):
    """The model of a parsed config (config.parse_model_config); `where` names the config in the
    error for one the twin cannot build."""
    check_implemented(config, where)
    return ARCHS[config['arch']].Model(config)


def logit_channels(config):
    """Output filters: L per colour for softmax, 1 for sigmoid (model.ts logitChannels)."""
    return (1 if config['likelihood'] == 'sigmoid' else config['levels']) * config['channels']
