"""Checkpoints in the format of src/train/checkpoint.ts, read and written from PyTorch:

  config.json            {"format": "pixelcnn-checkpoint", "version": 1, "model": {...}, "training": {...}?,
                          "metrics": {...}?, "created": ISO date, "generation": id}
  model.safetensors      float32 parameters, PyTorch names and layouts; metadata {format: "pt", generation}
  optimizer.safetensors  Adam moments "m.<param>", "v.<param>"; metadata {step, generation}; with a weight
                         average also the live weights "w.<param>" and {average_decay, average_updates}

Saving is the directory swap of checkpoint.ts, with the same names: a complete checkpoint is written
into the hidden sibling `.<name>.pixelcnn-new-<generation>` (each file written to a temporary name,
fsynced and renamed, config.json last), every other entry of the current directory (the user's) is
carried over as hard links, the directory's mode is kept, then: <dir> → `.<name>.pixelcnn-old-<generation>`,
the new one → <dir>, entries that appeared in the old one meanwhile moved across, the old one
removed. Only siblings with that marker are ever treated as leftovers (a user's <dir>.old or
<dir>.tmp is never touched). Non-finite weights or optimizer state are never written. Loading falls
back to the newest -old- sibling after a save interrupted between the renames, and checks that
every file carries config.json's generation id."""
import datetime
import json
import math
import os
import re
import secrets
import shutil
import stat
import time

import torch

from .config import ConfigError, parse_model_config
from .models import create_model
from .safetensors import SafetensorsError, encode, read

FORMAT, VERSION = 'pixelcnn-checkpoint', 1
CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE = 'config.json', 'model.safetensors', 'optimizer.safetensors'
OWN_FILES = {CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE}
# Left behind by an interrupted write_file_atomic (`<name>.tmp-<pid>-<12 hex>`); not carried over.
STALE_TMP = re.compile(r'\.tmp-\d+-[0-9a-f]{12}$')
# The marker of the swap's sibling directories; nothing without it is ever removed.
SWAP_MARKER = 'pixelcnn'
GENERATION = re.compile(r'[0-9a-z]+-[0-9a-f]{12}')


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
    """Recreates `src` at `dst` with hard links (copies where linking fails): directories are
    recreated with their modes, everything else (files, symlinks, FIFOs, sockets) linked as it is."""
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(dst)
        for e in os.listdir(src):
            _link_tree(os.path.join(src, e), os.path.join(dst, e))
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        if stat.S_ISREG(st.st_mode):
            shutil.copyfile(src, dst)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        else:
            raise CheckpointError(f'{src}: cannot carry it into the new checkpoint ({e.strerror})') from None


def _swap_dir(target, kind, generation):
    """The swap's sibling of `target` (an absolute path) for one save."""
    return os.path.join(os.path.dirname(target), f'.{os.path.basename(target)}.{SWAP_MARKER}-{kind}-{generation}')


def _swap_leftovers(target):
    """[(kind, path, generation)] of the swap siblings of `target` left by earlier saves (nothing
    else), oldest first."""
    prefix = f'.{os.path.basename(target)}.{SWAP_MARKER}-'
    try:
        entries = os.listdir(os.path.dirname(target))
    except OSError:
        return []
    found = []
    for e in entries:
        if not e.startswith(prefix):
            continue
        rest = e[len(prefix):]
        kind, generation = rest[:4], rest[4:]
        if kind in ('new-', 'old-') and GENERATION.fullmatch(generation):
            found.append((kind[:3], os.path.join(os.path.dirname(target), e), generation))
    # Generations start with the time in base 36: newest last.
    return sorted(found, key=lambda f: (len(f[2]), f[2]))


def _recoverable_old(target):
    """The old checkpoint a save interrupted between its renames left, when `target` is missing."""
    olds = [path for kind, path, _ in _swap_leftovers(target) if kind == 'old' and os.path.lexists(os.path.join(path, CONFIG_FILE))]
    return olds[-1] if olds else None


def checkpoint_exists(path):
    """Whether `path` holds a checkpoint, or would after recovery from a save interrupted between its
    renames (checkpoint.ts checkpointExists)."""
    return (os.path.lexists(os.path.join(path, CONFIG_FILE))
            or (not os.path.exists(path) and _recoverable_old(os.path.abspath(path)) is not None))


def _check_finite(path, params, optimizer, average):
    """Non-finite weights or optimizer state are never written (over a good checkpoint or at all)."""
    groups = [('parameter', params)]
    if optimizer is not None:
        groups += [('Adam first moment', optimizer['m']), ('Adam second moment', optimizer['v'])]
    if average is not None:
        groups.append(('live weight', average['live']))
    for what, tensors in groups:
        for name, t in tensors.items():
            flat = t.detach().reshape(-1)
            bad = (~torch.isfinite(flat)).nonzero()
            if len(bad):
                i = int(bad[0])
                raise CheckpointError(f"{path}: not saved: {what} '{name}' holds a non-finite value ({_js_number(float(flat[i]))} "
                                      f'at index {i}); training diverged (the checkpoint there is unchanged)')


def _js_number(x):
    """A non-finite float as JavaScript prints it."""
    return 'NaN' if math.isnan(x) else ('Infinity' if x > 0 else '-Infinity') if math.isinf(x) else repr(x)


def save_checkpoint(path, model_config, params, training=None, metrics=None, optimizer=None, average=None):
    """params {name: tensor}; optimizer {step, m: {name: tensor}, v: {...}}; average {decay, updates,
    live: {name: tensor}} (params then hold the average). Replaces `path` atomically, as
    saveCheckpoint of src/train/checkpoint.ts does (see the module's doc)."""
    try:
        parse_model_config(model_config, where=path)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    if average is not None and optimizer is None:
        raise CheckpointError(f'{path}: a weight average is saved with the optimizer state only')
    _check_finite(path, params, optimizer, average)
    target = _target(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Leftovers of interrupted saves (only our own marked siblings): a -new- one is incomplete; an
    # -old- one next to a complete <dir> is left from after a swap; without <dir> it is the current one.
    recovered = None if os.path.exists(target) else _recoverable_old(target)
    for _, leftover, _ in _swap_leftovers(target):
        if leftover != recovered:
            shutil.rmtree(leftover, ignore_errors=True)

    generation = f'{_base36(int(time.time() * 1000))}-{secrets.token_hex(6)}'
    tmp, old = _swap_dir(target, 'new', generation), _swap_dir(target, 'old', generation)
    current = target if os.path.exists(target) else recovered
    os.mkdir(tmp)
    try:
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
        write_file_atomic(os.path.join(tmp, CONFIG_FILE), json.dumps(config, indent=2, allow_nan=False) + '\n')
        if current:
            for e in os.listdir(current):
                if e not in OWN_FILES and not STALE_TMP.search(e):
                    _link_tree(os.path.join(current, e), os.path.join(tmp, e))
            # The directory keeps its permissions (a new one has mkdir's, from the umask).
            os.chmod(tmp, stat.S_IMODE(os.stat(current).st_mode))
        _fsync_dir(tmp)
    except BaseException:
        # Nothing was swapped yet: the half-written sibling goes, the checkpoint in <dir> stays as it was.
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    if current == target:
        os.rename(target, old)
    os.rename(tmp, target)
    _fsync_dir(os.path.dirname(target))
    previous = old if current == target else current
    if previous:
        # Whatever appeared in the old directory while this save ran is the user's: move it across.
        for e in os.listdir(previous):
            if e in OWN_FILES or STALE_TMP.search(e) or os.path.lexists(os.path.join(target, e)):
                continue
            os.rename(os.path.join(previous, e), os.path.join(target, e))
        shutil.rmtree(previous, ignore_errors=True)


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
    else:
        src = _recoverable_old(os.path.abspath(path))  # a save was interrupted between its two renames
        if src is None:
            raise CheckpointError(f'{path}: checkpoint directory does not exist')
    cpath = os.path.join(src, CONFIG_FILE)
    if not os.path.exists(cpath):
        raise CheckpointError(f'{cpath}: missing (not a checkpoint directory, or the first save did not finish)')
    try:
        with open(cpath, encoding='utf-8') as f:
            config = json.load(f, parse_constant=_refuse_constant)
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
    training = parse_training_state(config['training'], cpath) if 'training' in config else None
    if 'metrics' in config and not isinstance(config['metrics'], dict):
        raise CheckpointError(f'{cpath}: "metrics" is not an object')
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
    return {'dir': src, 'model': model, 'params': params, 'training': training,
            'metrics': metrics if 'metrics' in config else None, 'optimizer': optimizer, 'average': average}


def _refuse_constant(name):
    # JSON has no NaN or Infinity (JSON.parse refuses them; Python's reader would not).
    raise json.JSONDecodeError(f'{name} is not JSON', name, 0)


MAX_COUNT = 2 ** 48  # counts above this are not from a real run


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_training_state(value, where):
    """parseTrainingState of checkpoint-format.ts: config.json's "training" validated, as a dict with
    step, epoch, indexInEpoch, imagesSeen, elapsedSeconds, and "options" and "dataset" (a data-set
    record {name, dataDir, colour, binarise, limit}) when present; an older checkpoint's plain
    data-set name is dropped. Other keys are not kept."""
    def bad(msg):
        raise CheckpointError(f'{where}: {msg}')
    if not isinstance(value, dict):
        bad('"training" is not an object')
    state = {}
    for key in ('step', 'epoch', 'indexInEpoch', 'imagesSeen'):
        v = value.get(key)
        if not _is_number(v) or not math.isfinite(v) or v != int(v) or not 0 <= v <= MAX_COUNT:
            bad(f'"training.{key}" must be an integer in [0, 2^48], got {_json(value, key)}')
        state[key] = int(v)
    elapsed = value.get('elapsedSeconds')
    if not _is_number(elapsed) or not math.isfinite(elapsed) or elapsed < 0:
        bad(f'"training.elapsedSeconds" must be a number ≥ 0, got {_json(value, "elapsedSeconds")}')
    state['elapsedSeconds'] = elapsed
    if 'options' in value:
        if not isinstance(value['options'], dict):
            bad('"training.options" is not an object')
        state['options'] = value['options']
    d = value.get('dataset')
    if isinstance(d, dict):
        def text(key):
            v = d.get(key)
            if v is not None and not isinstance(v, str):
                bad(f'"training.dataset.{key}" must be a string or null, got {_json(d, key)}')
            return v
        name = text('name')
        if name is None:
            bad('"training.dataset.name" is missing')
        limit = d.get('limit')
        if limit is not None and (not _is_number(limit) or not math.isfinite(limit) or limit != int(limit) or not 1 <= limit <= MAX_COUNT):
            bad(f'"training.dataset.limit" must be a positive integer or null, got {_json(d, "limit")}')
        state['dataset'] = {'name': name, 'dataDir': text('dataDir'), 'colour': text('colour'), 'binarise': text('binarise'),
                            'limit': None if limit is None else int(limit)}
    elif 'dataset' in value and not isinstance(d, str):
        bad(f'"training.dataset" must be an object, got {_json(value, "dataset")}')
    return state


def _json(obj, key):
    """JSON.stringify's text of obj[key] as the messages of checkpoint-format.ts show it (3.0 is 3; a
    missing key is undefined)."""
    if key not in obj:
        return 'undefined'
    v = obj[key]
    if v is None:
        return 'null'
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return json.dumps(v)


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
        # weight_norm's direction: w = g · v/‖v‖ per slice of the first axis needs ‖v‖ > 0 (checkpoint-format.ts).
        if n.endswith('.weight_v') and t.dim() > 0 and t.shape[0] > 0:
            zero = (t.reshape(t.shape[0], -1) == 0).all(1).nonzero()
            if len(zero):
                raise CheckpointError(f"{source}: parameter '{n}' is zero in slice {int(zero[0])} of its first axis "
                                      '(weight normalisation divides by its norm)')
    with torch.no_grad():
        for n, p in own.items():
            p.copy_(params[n])


def load_model(path, live=False):
    """(model in eval mode, checkpoint dict): the model of a checkpoint directory, with the live weights instead of
    their average when `live` (a checkpoint trained with --ema)."""
    ck = load_checkpoint(path)
    model = create_model(ck['model'])
    params = ck['params']
    if live:
        if ck['average'] is None:
            raise CheckpointError(f'{path}: holds no weight average (train with --ema), so model.safetensors already has the live weights')
        params = ck['average']['live']
    load_params_into(model, params, path)
    return model.eval(), ck  # for inference: no dropout
