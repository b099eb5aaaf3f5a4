"""Checkpoints in the format of src/train/checkpoint.ts, read and written from PyTorch:

  config.json            {"format": "pixelcnn-checkpoint", "version": 1, "model": {...}, "training": {...}?,
                          "metrics": {...}?, "created": ISO date, "generation": id}
  model.safetensors      float32 parameters, PyTorch names and layouts; metadata {format: "pt", generation}
  optimizer.safetensors  Adam moments "m.<param>", "v.<param>"; metadata {step, generation}; with a weight
                         average also the live weights "w.<param>" and {average_decay, average_updates}

Saving writes a complete checkpoint into <dir>.tmp (each file written to a temporary name, fsynced
and renamed, config.json last), carries every other entry of the current directory over as hard
links, then swaps: <dir> → <dir>.old, <dir>.tmp → <dir>, remove <dir>.old. Loading falls back to
<dir>.old after a save interrupted between the renames, and checks that every file carries
config.json's generation id."""
import datetime
import json
import math
import os
import secrets
import shutil
import time

import torch

from .config import ConfigError, parse_model_config
from .models import create_model
from .safetensors import SafetensorsError, encode, read

FORMAT, VERSION = 'pixelcnn-checkpoint', 1
CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE = 'config.json', 'model.safetensors', 'optimizer.safetensors'
OWN_FILES = {CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE}


class CheckpointError(ValueError):
    """A missing, malformed or inconsistent checkpoint; the message is one line naming the file."""


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory
    finally:
        os.close(fd)


def write_file_atomic(path, data):
    """Readers see the old file or the complete new one (atomic-write.ts)."""
    tmp = f'{path}.tmp-{os.getpid()}-{secrets.token_hex(6)}'
    try:
        with open(tmp, 'xb') as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _target(path):
    target = os.path.realpath(os.path.abspath(path))
    cwd = os.path.realpath(os.getcwd())
    if cwd == target or cwd.startswith(target.rstrip(os.sep) + os.sep):
        raise CheckpointError(f'{path}: a checkpoint directory is replaced on every save, so it cannot be the working '
                              'directory or contain it; use a subdirectory')
    return target


def _link_tree(src, dst):
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    elif os.path.isdir(src):
        os.mkdir(dst)
        for e in os.listdir(src):
            _link_tree(os.path.join(src, e), os.path.join(dst, e))
    elif os.path.isfile(src):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def save_checkpoint(path, model_config, params, training=None, metrics=None, optimizer=None, average=None):
    """params {name: tensor}; optimizer {step, m: {name: tensor}, v: {...}}; average {decay, updates,
    live: {name: tensor}} (params then hold the average). Replaces `path` atomically."""
    try:
        parse_model_config(model_config, where=path)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    if average is not None and optimizer is None:
        raise CheckpointError(f'{path}: a weight average is saved with the optimizer state only')
    target = _target(path)
    tmp, old = target + '.tmp', target + '.old'
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    os.mkdir(tmp)
    generation = f'{_base36(int(time.time() * 1000))}-{secrets.token_hex(6)}'
    if optimizer is not None:
        tensors = {f'm.{k}': t.reshape(params[k].shape) for k, t in optimizer['m'].items()}
        tensors.update({f'v.{k}': t.reshape(params[k].shape) for k, t in optimizer['v'].items()})
        meta = {'step': str(int(optimizer['step'])), 'generation': generation}
        if average is not None:
            tensors.update({f'w.{k}': t for k, t in average['live'].items()})
            meta['average_decay'] = repr(float(average['decay']))
            meta['average_updates'] = str(int(average['updates']))
        write_file_atomic(os.path.join(tmp, OPTIMIZER_FILE), encode(tensors, meta))
    write_file_atomic(os.path.join(tmp, MODEL_FILE), encode(params, {'format': 'pt', 'generation': generation}))
    config = {'format': FORMAT, 'version': VERSION, 'model': dict(model_config)}
    if training is not None:
        config['training'] = training
    if metrics is not None:
        config['metrics'] = {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in metrics.items()}
    config['created'] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')
    config['generation'] = generation
    write_file_atomic(os.path.join(tmp, CONFIG_FILE), json.dumps(config, indent=2) + '\n')
    current = target if os.path.exists(target) else old if os.path.exists(old) else None
    if current:
        for e in os.listdir(current):
            if e not in OWN_FILES and '.tmp-' not in e:
                _link_tree(os.path.join(current, e), os.path.join(tmp, e))
    _fsync_dir(tmp)
    if os.path.exists(target):
        shutil.rmtree(old, ignore_errors=True)
        os.rename(target, old)
    os.rename(tmp, target)
    _fsync_dir(os.path.dirname(target))
    shutil.rmtree(old, ignore_errors=True)


def _base36(n):
    s = ''
    while True:
        n, r = divmod(n, 36)
        s = '0123456789abcdefghijklmnopqrstuvwxyz'[r] + s
        if n == 0:
            return s


def _read_tensors(path):
    try:
        return read(path)
    except OSError as e:
        raise CheckpointError(f'{path}: cannot read ({e.strerror})') from None
    except SafetensorsError as e:
        raise CheckpointError(str(e)) from None


def _check_generation(path, meta, generation):
    g = meta.get('generation')
    if g is not None and generation is not None and g != generation:
        raise CheckpointError(f'{path}: belongs to a different save than config.json (generation {g} vs {generation}); '
                              'the directory mixes files of two checkpoints')


def load_checkpoint(path):
    """{dir, model (parsed config), params, training, metrics, optimizer (or None), average (or None)}."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise CheckpointError(f'{path}: not a directory')
        src = path
    elif os.path.exists(os.path.join(os.path.abspath(path) + '.old', CONFIG_FILE)):
        src = os.path.abspath(path) + '.old'  # a save was interrupted between its two renames
    else:
        raise CheckpointError(f'{path}: checkpoint directory does not exist')
    cpath = os.path.join(src, CONFIG_FILE)
    if not os.path.exists(cpath):
        raise CheckpointError(f'{cpath}: missing (not a checkpoint directory, or the first save did not finish)')
    try:
        with open(cpath, encoding='utf-8') as f:
            config = json.load(f)
    except json.JSONDecodeError as e:
        raise CheckpointError(f'{cpath}: not valid JSON ({e})') from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f'{cpath}: cannot read ({e})') from None
    if not isinstance(config, dict):
        raise CheckpointError(f'{cpath}: not a JSON object')
    if config.get('format') != FORMAT:
        raise CheckpointError(f'{cpath}: "format" is {json.dumps(config.get("format"))}, expected "{FORMAT}"')
    v = config.get('version')
    if v != VERSION:
        newer = isinstance(v, (int, float)) and not isinstance(v, bool) and v > VERSION
        raise CheckpointError(f'{cpath}: checkpoint version {v} was written by a newer version of this program (this one reads {VERSION})'
                              if newer else f'{cpath}: "version" is {json.dumps(v)}, expected {VERSION}')
    if not isinstance(config.get('model'), dict):
        raise CheckpointError(f'{cpath}: "model" (the model config) is missing or not an object')
    try:
        model = parse_model_config(config['model'], where=cpath, name=lambda k: f'"model.{k}"')
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    for k in ('training', 'metrics'):
        if k in config and not isinstance(config[k], dict):
            raise CheckpointError(f'{cpath}: "{k}" is not an object')
    generation = config.get('generation') if isinstance(config.get('generation'), str) else None
    mpath = os.path.join(src, MODEL_FILE)
    if not os.path.exists(mpath):
        raise CheckpointError(f'{mpath}: missing (the checkpoint has no parameters)')
    params, meta = _read_tensors(mpath)
    _check_generation(mpath, meta, generation)
    if not params:
        raise CheckpointError(f'{mpath}: holds no tensors')
    optimizer = average = None
    opath = os.path.join(src, OPTIMIZER_FILE)
    if os.path.exists(opath):
        tensors, meta = _read_tensors(opath)
        _check_generation(opath, meta, generation)
        optimizer, average = _decode_optimizer(opath, tensors, meta, params)
    metrics = {k: (float('nan') if v is None else v) for k, v in config.get('metrics', {}).items()
               if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}
    return {'dir': src, 'model': model, 'params': params, 'training': config.get('training'),
            'metrics': metrics if 'metrics' in config else None, 'optimizer': optimizer, 'average': average}


def _decode_optimizer(path, tensors, meta, params):
    def bad(msg):
        raise CheckpointError(f'{path}: {msg}')
    step = meta.get('step')
    if step is None or not step.isdigit():
        bad(f'metadata "step" must be a non-negative integer, got {json.dumps(step)}')
    m, v, w = {}, {}, {}
    for key, t in tensors.items():
        which = {'m.': m, 'v.': v, 'w.': w}.get(key[:2])
        if which is None:
            bad(f"unexpected tensor '{key}' (expected m.<param>, v.<param> or w.<param>)")
        name = key[2:]
        if name not in params:
            bad(f"'{key}' is for a parameter that model.safetensors does not have")
        if t.numel() != params[name].numel():
            bad(f"'{key}' has {t.numel()} values, parameter '{name}' has {params[name].numel()}")
        which[name] = t.reshape(params[name].shape)
    for a, b, x in (('m', 'v', m), ('v', 'm', v)):
        for name in x:
            if name not in (v if a == 'm' else m):
                bad(f'has {a}.{name} but no {b}.{name}')
    optimizer = {'step': int(step), 'm': m, 'v': v}
    if not w and 'average_decay' not in meta:
        return optimizer, None
    for name in params:
        if name not in w:
            bad(f'holds a weight average but no live weights w.{name}')
    try:
        decay, updates = float(meta.get('average_decay', 'x')), meta.get('average_updates', '')
    except ValueError:
        decay = float('nan')
    if not 0 < decay < 1:
        bad(f'metadata "average_decay" must be a number in (0, 1), got {json.dumps(meta.get("average_decay"))}')
    if not updates.isdigit():
        bad(f'metadata "average_updates" must be a non-negative integer, got {json.dumps(meta.get("average_updates"))}')
    return optimizer, {'decay': decay, 'updates': int(updates), 'live': w}


def load_params_into(model, params, source):
    """Every parameter present with its exact shape, no others, all finite (checkpoint-format.ts)."""
    own = dict(model.named_parameters())
    missing = [n for n in own if n not in params]
    extra = [n for n in params if n not in own]
    shaped = [f'{n} (checkpoint {list(params[n].shape)}, model {list(p.shape)})'
              for n, p in own.items() if n in params and tuple(params[n].shape) != tuple(p.shape)]
    if missing or extra or shaped:
        parts = [f'missing: {", ".join(missing)}' if missing else '', f'unexpected: {", ".join(extra)}' if extra else '',
                 f'wrong shape: {"; ".join(shaped)}' if shaped else '']
        raise CheckpointError(f"{source}: the parameters do not fit the {model.config['arch']} model; {'; '.join(p for p in parts if p)}")
    for n, t in params.items():
        if not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{source}: parameter '{n}' holds a non-finite value")
    with torch.no_grad():
        for n, p in own.items():
            p.copy_(params[n])


def load_model(path, live=False):
    """(model, checkpoint dict): the model of a checkpoint directory, with the live weights instead of
    their average when `live` (a checkpoint trained with --ema)."""
    ck = load_checkpoint(path)
    model = create_model(ck['model'])
    params = ck['params']
    if live:
        if ck['average'] is None:
            raise CheckpointError(f'{path}: holds no weight average (train with --ema), so model.safetensors already has the live weights')
        params = ck['average']['live']
    load_params_into(model, params, path)
    return model, ck
