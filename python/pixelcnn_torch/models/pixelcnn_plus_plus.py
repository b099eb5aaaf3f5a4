"""PixelCNN++ (src/models/pixelcnn-plus-plus.ts): its config only, so that the shared config reader
accepts and refuses what ours does. The twin has no model for it yet (no Model: create_model
refuses it with one line)."""
from ..config import float_field, int_field

DEFAULTS = {'arch': 'pixelcnn++', 'channels': 1, 'levels': 256, 'likelihood': 'softmax', 'mixtures': 10, 'height': 28,
            'width': 28, 'numClasses': 0, 'filters': 32, 'resnets': 1, 'dropout': 0.1}

SPEC = {
    'arch': 'pixelcnn++',
    'title': 'PixelCNN++',
    'fields': {'filters': int_field(1, 4096), 'resnets': int_field(0, 64), 'dropout': float_field(0, 0.95)},
    'defaults': DEFAULTS,
}
