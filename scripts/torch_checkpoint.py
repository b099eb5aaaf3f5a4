#!/usr/bin/env python3
"""The pixelcnn PixelCNN in PyTorch, reading and writing checkpoints of the TypeScript package.

  python3 scripts/torch_checkpoint.py --load runs/mnist --input x.safetensors --output logits.safetensors
  python3 scripts/torch_checkpoint.py --save runs/torch --channels 1 --levels 256 --seed 0

A checkpoint is a directory with config.json ({"format": "pixelcnn-checkpoint", "version": 1,
"model": {...}}) and model.safetensors (float32, PyTorch names and layouts). --input holds a
tensor "x" (B, C, H, W) of level / (L - 1) in [0, 1]; --output receives "logits". Masks follow
src/nn/masks.ts and are buffers applied in forward as weight * mask. Uses the `safetensors`
package when installed, else a small json + struct reader/writer. --save writes in place
(not atomically, unlike the TypeScript writer).
"""
import argparse, datetime, json, os, struct, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NP_DTYPES = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2'}


def read_safetensors(path):
    try:
        from safetensors.torch import load_file
        return {k: v.float() for k, v in load_file(path).items()}
    except ImportError:
        pass
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header, base, out = json.loads(data[8:8 + n]), 8 + n, {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        if e['dtype'] not in NP_DTYPES:
            sys.exit(f'{path}: tensor {name}: unsupported dtype {e["dtype"]}')
        b, end = e['data_offsets']
        a = np.frombuffer(data[base + b:base + end], dtype=NP_DTYPES[e['dtype']]).reshape(e['shape'])
        out[name] = torch.from_numpy(a.astype(np.float32))
    return out


def write_safetensors(path, tensors, metadata):
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in tensors.items()}
    try:
        from safetensors.torch import save_file
        return save_file(tensors, path, metadata=metadata)
    except ImportError:
        pass
    header, blobs, off = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors):
        b = tensors[name].numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def pixelcnn_mask(kind, out_f, in_f, k, colours):
    """(O, I, k, k): taps above the centre row and left of the centre; colour rule at the centre."""
    m, c = torch.zeros(out_f, in_f, k, k), k // 2
    m[:, :, :c, :] = 1
    m[:, :, c, :c] = 1
    co, ci = torch.arange(out_f)[:, None] % colours, torch.arange(in_f)[None, :] % colours
    m[:, :, c, c] = (ci < co if kind == 'A' else ci <= co).float()
    return m


class MaskedConv2d(nn.Conv2d):
    def __init__(self, in_f, out_f, k, kind, colours):
        super().__init__(in_f, out_f, k, padding=k // 2)  # default init: U(±1/sqrt(fan_in)), as ours
        self.register_buffer('mask', pixelcnn_mask(kind, out_f, in_f, k, colours), persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Block(nn.Module):
    def __init__(self, h, colours):
        super().__init__()
        self.conv1 = MaskedConv2d(h, h // 2, 1, 'B', colours)
        self.conv2 = MaskedConv2d(h // 2, h // 2, 3, 'B', colours)
        self.conv3 = MaskedConv2d(h // 2, h, 1, 'B', colours)

    def forward(self, x):
        return x + self.conv3(F.relu(self.conv2(F.relu(self.conv1(F.relu(x))))))


class PixelCNN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.get('arch') != 'pixelcnn':
            sys.exit(f'unsupported arch {cfg.get("arch")!r} (this script knows pixelcnn)')
        C, h, d = cfg['channels'], cfg['hidden'], cfg['outHidden']
        out = C if cfg['likelihood'] == 'sigmoid' else cfg['levels'] * C  # filter o = k*C + c
        self.input = MaskedConv2d(C, h, 7, 'A', C)
        self.blocks = nn.ModuleList(Block(h, C) for _ in range(cfg['blocks']))
        self.out1 = MaskedConv2d(h, d, 1, 'B', C)
        self.out2 = MaskedConv2d(d, out, 1, 'B', C)

    def forward(self, x):
        h = self.input(x)
        for b in self.blocks:
            h = b(h)
        return self.out2(F.relu(self.out1(F.relu(h))))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--load', metavar='DIR', help='checkpoint directory to read')
    g.add_argument('--save', metavar='DIR', help='write a freshly initialised torch model as a checkpoint')
    p.add_argument('--input', help='safetensors file with tensor "x" (B, C, H, W) in [0, 1]')
    p.add_argument('--output', help='safetensors file to write tensor "logits" to (needs --input)')
    for name, default in [('channels', 1), ('levels', 256), ('hidden', 128), ('out-hidden', 32),
                          ('blocks', 7), ('height', 28), ('width', 28), ('seed', 0)]:
        p.add_argument(f'--{name}', type=int, default=default, help=f'with --save (default {default})')
    p.add_argument('--likelihood', choices=['softmax', 'sigmoid'], default='softmax')
    a = p.parse_args()

    if a.load:
        with open(os.path.join(a.load, 'config.json')) as f:
            config = json.load(f)
        if config.get('format') != 'pixelcnn-checkpoint' or config.get('version') != 1:
            sys.exit(f'{a.load}: not a version-1 pixelcnn checkpoint')
        cfg = config['model']
        model = PixelCNN(cfg)
        model.load_state_dict(read_safetensors(os.path.join(a.load, 'model.safetensors')), strict=True)
    else:
        torch.manual_seed(a.seed)
        cfg = {'arch': 'pixelcnn', 'channels': a.channels, 'levels': a.levels, 'likelihood': a.likelihood,
               'height': a.height, 'width': a.width, 'numClasses': 0,
               'hidden': a.hidden, 'outHidden': a.out_hidden, 'blocks': a.blocks}
        model = PixelCNN(cfg)
        os.makedirs(a.save, exist_ok=True)
        write_safetensors(os.path.join(a.save, 'model.safetensors'), model.state_dict(), {'format': 'pt'})
        config = {'format': 'pixelcnn-checkpoint', 'version': 1, 'model': cfg,
                  'created': datetime.datetime.now(datetime.timezone.utc).isoformat()}
        with open(os.path.join(a.save, 'config.json'), 'w') as f:
            json.dump(config, f, indent=2)
    n = sum(t.numel() for t in model.parameters())
    print(f'{cfg["arch"]}: {cfg["channels"]}x{cfg["height"]}x{cfg["width"]}, {cfg["levels"]} levels, {n} parameters')

    if a.input:
        x = read_safetensors(a.input)['x']
        with torch.no_grad():
            logits = model(x)
        print(f'logits {tuple(logits.shape)}')
        if a.output:
            write_safetensors(a.output, {'logits': logits}, {'format': 'pt'})


if __name__ == '__main__':
    main()
