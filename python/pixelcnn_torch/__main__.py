"""python3 -m pixelcnn_torch (with python/ on PYTHONPATH): checkpoint tools on the PyTorch side.

  logits --model DIR --input x.safetensors --output y.safetensors
      the model's output for tensor "x" (B, C, H, W) of level / (L − 1) in [0, 1], and class
      labels "classes" (B) for conditional models (stored as float32); writes tensor "logits", and
      with level labels "labels" (B, C, H, W) (float32) in the input also "nll" (B), −ln p of each
      image in nats
  eval --model DIR [--dataset mnist|fashion-mnist] [--data-dir D] [--limit N] [--split test] [--json]
      exact NLL of a split with the fixed test binarisation: the numbers of `pixelcnn eval`
  init --out DIR --config '{"arch": ..., ...}' [--seed N]
      a freshly initialised model (torch.manual_seed(N)) written as a checkpoint
  import-pclucas14 --pth FILE --out DIR [--height H] [--width W] [--force]
      a state dict saved by the PyTorch PixelCNN++ port pclucas14/pixel-cnn-pp (its main.py's
      torch.save(model.state_dict()), or nn.DataParallel's) as our PixelCNN++ checkpoint; nr_filters,
      nr_resnet, nr_logistic_mix and the colours come from the tensor shapes, H×W (default 32×32 RGB,
      28×28 gray: the port's) is the image size recorded. A .pth is a pickle: load only files you
      trust (with PyTorch ≥ 1.13 nothing but tensors is unpickled).

Errors print one line, `pixelcnn_torch: error: ...`, and exit 1."""
import argparse
import json
import sys

import torch

from .checkpoint import CheckpointError, checkpoint_exists, load_model, save_checkpoint, write_file_atomic
from .config import ConfigError, parse_model_config
from .data import DATASETS, DataError, fixed_levels, load_split
from .likelihood import evaluate, nll_per_image
from .models import create_model
from .pclucas14 import PORT, convert, infer_config, read_state_dict
from .safetensors import SafetensorsError, encode, read


def main(argv=None):
    p = argparse.ArgumentParser(prog='python3 -m pixelcnn_torch', description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    lg = sub.add_parser('logits', help='logits of a checkpoint for inputs in a safetensors file')
    lg.add_argument('--model', required=True)
    lg.add_argument('--input', required=True)
    lg.add_argument('--output', required=True)
    lg.add_argument('--live-weights', action='store_true')
    ev = sub.add_parser('eval', help='exact NLL of a data split')
    ev.add_argument('--model', required=True)
    ev.add_argument('--dataset', choices=DATASETS, default='mnist')
    ev.add_argument('--data-dir')
    ev.add_argument('--split', choices=['train', 'test'], default='test')
    ev.add_argument('--binarise', choices=['stochastic', 'threshold'], default='stochastic')
    ev.add_argument('--limit', type=int)
    ev.add_argument('--batch', type=int, default=64)
    ev.add_argument('--live-weights', action='store_true')
    ev.add_argument('--json', action='store_true')
    it = sub.add_parser('init', help='write a freshly initialised model as a checkpoint')
    it.add_argument('--out', required=True)
    it.add_argument('--config', required=True, help='the model config as JSON text')
    it.add_argument('--seed', type=int, default=0)
    im = sub.add_parser('import-pclucas14', help=f'a state dict (.pth) of the PyTorch port {PORT} as our checkpoint',
                        description=f'Writes a state dict saved by {PORT} (a .pth) as our PixelCNN++ checkpoint. '
                                    'A .pth is a pickle: only load files you trust (with PyTorch >= 1.13 nothing but tensors is unpickled).')
    im.add_argument('--pth', required=True, help="the port's torch.save(model.state_dict()) file")
    im.add_argument('--out', required=True, help='the checkpoint directory to write')
    im.add_argument('--height', type=int, help='image height recorded in the config (default: 32 RGB, 28 gray)')
    im.add_argument('--width', type=int, help='image width recorded in the config (default: 32 RGB, 28 gray)')
    im.add_argument('--force', action='store_true', help='replace the checkpoint already in --out')
    a = p.parse_args(argv)
    try:
        if a.command == 'logits':
            model, _ = load_model(a.model, live=a.live_weights)
            tensors, _ = read(a.input)
            if 'x' not in tensors:
                raise DataError(f'{a.input}: no tensor "x"')
            cls = tensors.get('classes')
            with torch.no_grad():
                out = {'logits': model(tensors['x'], None if cls is None else cls.long())}
                if 'labels' in tensors:
                    y, L = tensors['labels'], model.config['levels']
                    if y.shape != tensors['x'].shape:
                        raise DataError(f'{a.input}: "labels" {list(y.shape)} must have the shape of "x" {list(tensors["x"].shape)}')
                    bad = ~((y == y.round()) & (y >= 0) & (y < L))
                    if bool(bad.any()):
                        raise DataError(f'{a.input}: "labels" must hold level labels in [0, {L}), got {float(y[bad][0]):g}')
                    out['nll'] = nll_per_image(out['logits'], y.to(torch.uint8), model.config)
            write_file_atomic(a.output, encode(out, {'format': 'pt'}))
        elif a.command == 'eval':
            if a.limit is not None and a.limit < 1:
                raise DataError(f'--limit must be a positive integer, got {a.limit}')
            model, _ = load_model(a.model, live=a.live_weights)
            c = model.config
            pixels, labels = load_split(a.dataset, a.split, a.data_dir, a.limit)
            if pixels.shape[1:] != (c['channels'], c['height'], c['width']):
                raise DataError(f"data {a.dataset}:{a.split} has {'×'.join(map(str, pixels.shape[1:]))} images, "
                                f"the model expects {c['channels']}×{c['height']}×{c['width']}")
            y = torch.from_numpy(fixed_levels(pixels, c['levels'], a.binarise))
            cls = torch.from_numpy(labels.astype('int64')) if c['numClasses'] > 0 else None
            r = evaluate(model, y, cls, c, a.batch)
            out = {'model': a.model, 'dataset': f'{a.dataset}:{a.split}', 'images': r['images'],
                   'dims_per_image': int(y[0].numel()), 'bits_per_dim': r['bits_per_dim']}
            if c['levels'] == 2:
                out.update(nats_per_image=r['nats_per_image'], binarise=a.binarise)
            print(json.dumps(out) if a.json else f"{out['dataset']}: {r['images']} images, {r['bits_per_dim']:.4f} bits/dim"
                  + (f", {r['nats_per_image']:.2f} nats/image" if c['levels'] == 2 else ''))
        elif a.command == 'import-pclucas14':
            # Before the (possibly long) read: an existing model is never replaced unasked.
            if checkpoint_exists(a.out) and not a.force:
                raise CheckpointError(f'{a.out} already holds a checkpoint; replace it with --force')
            sd = read_state_dict(a.pth)
            cfg = infer_config(a.pth, sd, a.height, a.width)
            model = convert(a.pth, sd, cfg)
            save_checkpoint(a.out, cfg, dict(model.named_parameters()))
            n = sum(t.numel() for t in sd.values())
            print(f"{a.pth}: {PORT} PixelCNN++, {cfg['channels']} colour{'s' if cfg['channels'] > 1 else ''}, nr_filters {cfg['filters']}, "
                  f"nr_resnet {cfg['resnets']}, nr_logistic_mix {cfg['mixtures']}{', weight norm' if cfg['weightNorm'] else ''}, "
                  f"{n} parameters; checkpoint {a.out} ({cfg['height']}x{cfg['width']}, {cfg['levels']} levels)")
        else:
            try:
                raw = json.loads(a.config)
            except json.JSONDecodeError as e:
                raise ConfigError(f'--config: not valid JSON ({e})') from None
            cfg = parse_model_config(raw, where='--config')
            torch.manual_seed(a.seed)
            model = create_model(cfg)
            save_checkpoint(a.out, cfg, dict(model.named_parameters()))
            n = sum(t.numel() for t in model.parameters())
            print(f"{cfg['arch']}: {cfg['channels']}x{cfg['height']}x{cfg['width']}, {cfg['levels']} levels, {n} parameters; checkpoint {a.out}")
    except (CheckpointError, ConfigError, DataError, SafetensorsError, ValueError, OSError) as e:
        print(f'pixelcnn_torch: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
