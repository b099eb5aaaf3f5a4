"""The residual PixelCNN of src/models/pixelcnn.ts:

  x ─ 7×7 masked A (C → h) ─ R × [ReLU ─ 1×1 (h → h/2) ─ ReLU ─ 3×3 B ─ ReLU ─ 1×1 (h/2 → h)] + residual
    ─ ReLU ─ 1×1 (h → d) ─ ReLU ─ 1×1 (d → C·L) → logits

Every layer, 1×1 ones included, carries the colour mask. Names: input, blocks.i.conv1|2|3, out1, out2."""
import torch.nn as nn
import torch.nn.functional as F

from ..config import int_field
from ..layers import MaskedConv2d

DEFAULTS = {'arch': 'pixelcnn', 'channels': 1, 'levels': 256, 'likelihood': 'softmax', 'mixtures': 10, 'height': 28, 'width': 28,
            'numClasses': 0, 'hidden': 128, 'outHidden': 32, 'blocks': 7}

SPEC = {
    'arch': 'pixelcnn',
    'title': 'PixelCNN',
    'fields': {'hidden': int_field(2, 4096, 'even'), 'outHidden': int_field(1, 4096), 'blocks': int_field(0, 256)},
    'defaults': DEFAULTS,
    'rules': lambda c, name: (f"{name('numClasses')} must be 0: the residual PixelCNN is unconditional "
                              "(use the gated model for classes)") if c['numClasses'] != 0 else None,
}


class Block(nn.Module):
    def __init__(self, h, colours):
        super().__init__()
        self.conv1 = MaskedConv2d(h, h // 2, 1, ('B', colours))
        self.conv2 = MaskedConv2d(h // 2, h // 2, 3, ('B', colours))
        self.conv3 = MaskedConv2d(h // 2, h, 1, ('B', colours))

    def forward(self, x):
        return x + self.conv3(F.relu(self.conv2(F.relu(self.conv1(F.relu(x))))))


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        from . import output_channels
        self.config = dict(cfg)
        C, h, d = cfg['channels'], cfg['hidden'], cfg['outHidden']
        self.input = MaskedConv2d(C, h, 7, ('A', C))
        self.blocks = nn.ModuleList(Block(h, C) for _ in range(cfg['blocks']))
        self.out1 = MaskedConv2d(h, d, 1, ('B', C))
        self.out2 = MaskedConv2d(d, output_channels(cfg), 1, ('B', C))

    def forward(self, x, classes=None):
        h = self.input(x)
        for b in self.blocks:
            h = b(h)
        return self.out2(F.relu(self.out1(F.relu(h))))
