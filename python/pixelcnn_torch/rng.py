"""The seeded random numbers of src/random/rng.ts (xoshiro128**, seeded through splitmix32), bit for bit,
and the seeds the TypeScript trainer derives from them: the epoch permutation and the fixed test
binarisation are the same draws on both sides, so data order and test NLLs compare exactly."""
import numpy as np

M32 = 0xFFFFFFFF


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    def __init__(self, seed=0):
        z = (seed & M32) ^ 0x9E3779B9
        s = []
        for _ in range(4):
            z = (z + 0x9E3779B9) & M32
            t = z
            t = ((t ^ (t >> 16)) * 0x85EBCA6B) & M32
            t = ((t ^ (t >> 13)) * 0xC2B2AE35) & M32
            s.append(t ^ (t >> 16))
        if not any(s):
            s[0] = 1
        self.s = s

    def next_uint32(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & M32, 7) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s = [s0, s1, s2, _rotl(s3, 11)]
        return result

    def uniform(self):
        return self.next_uint32() / 4294967296

    def int(self, n):
        return int(self.uniform() * n)  # floor: the product is non-negative

    def uint32_array(self, n):
        """n consecutive next_uint32() values (the hot loop of binarisation, unrolled)."""
        out = np.empty(n, dtype=np.uint32)
        s0, s1, s2, s3 = self.s
        for i in range(n):
            x = (s1 * 5) & M32
            out[i] = ((((x << 7) | (x >> 25)) & M32) * 9) & M32
            t = (s1 << 9) & M32
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = ((s3 << 11) | (s3 >> 21)) & M32
        self.s = [s0, s1, s2, s3]
        return out

    def shuffle(self, a):
        """In-place Fisher-Yates, the same swaps as Rng.shuffle."""
        for i in range(len(a) - 1, 0, -1):
            j = self.int(i + 1)
            a[i], a[j] = a[j], a[i]
        return a


def _js_uint32(*terms):
    """`(a * b + c * d + e) >>> 0` as JavaScript computes it: each product and sum rounded to a
    double (inexact once a seed times 2654435761 passes 2^53), then taken modulo 2^32."""
    v = 0.0
    for t in terms:
        v = v + (float(t[0]) * float(t[1]) if isinstance(t, tuple) else float(t))
    return int(v) % 2 ** 32


def epoch_order(count, seed, epoch):
    """trainer.ts epochOrder: the permutation of the training images for an epoch."""
    order = np.arange(count, dtype=np.int64)
    return Rng(_js_uint32((seed, 1000003), (epoch, 7919), 1)).shuffle(order)


def step_seed(seed, step):
    """trainer.ts: the seed of a step's fresh binarisation draw."""
    return _js_uint32((seed, 2654435761), (step, 40503), 17)


# Skipping ahead. The state transition of xoshiro128** is linear over GF(2), so n steps are one
# 128×128 bit matrix, T^n, built by squaring: a DDP process then draws only its own slice of a
# step's binarisation stream (and of the test draw) instead of every value before it.

def _step_matrix():
    cols = []
    for bit in range(128):
        r = Rng(0)
        r.s = [(1 << (bit % 32)) if w == bit // 32 else 0 for w in range(4)]
        r.next_uint32()
        cols.append(_bits(r.s))
    return np.array(cols, dtype=np.int64).T  # column j: the image of basis vector j


def _bits(s):
    return [(s[w] >> b) & 1 for w in range(4) for b in range(32)]


def skip_matrix(n):
    """T^n: the state after n next_uint32() calls, as a matrix over GF(2)."""
    result, power = np.eye(128, dtype=np.int64), _step_matrix()
    while n:
        if n & 1:
            result = (result @ power) & 1
        power = (power @ power) & 1
        n >>= 1
    return result


def skip(rng, matrix):
    """Advances `rng` by the n steps of skip_matrix(n), in place."""
    v = (matrix @ np.array(_bits(rng.s), dtype=np.int64)) & 1
    rng.s = [int(sum(int(v[w * 32 + b]) << b for b in range(32))) for w in range(4)]
    return rng
