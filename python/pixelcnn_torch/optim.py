"""The optimiser of `pixelcnn train`, in PyTorch: Adam with global-norm clipping and L2 weight decay
(src/nn/adam.ts, the same update formula and state: moments m/v per parameter name and a step
count), the learning-rate schedules (src/train/schedule.ts) and the weight average
(src/nn/weight-average.ts). Written out rather than torch.optim.Adam so that the state maps one to
one onto optimizer.safetensors and the clipping rule is ours (no 1e-6 added to the norm)."""
import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, clip_norm=1.0):
        self.params = dict(params)  # name → Parameter
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay, self.clip_norm = weight_decay, clip_norm
        self.step_count = 0
        self.m = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in self.params.items()}

    def grad_norm(self):
        # Summed in float64 like ours (a JavaScript number per square).
        return math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in self.params.values() if p.grad is not None))

    @torch.no_grad()
    def step(self, lr=None):
        """One update; returns the gradient norm before clipping."""
        lr = self.lr if lr is None else lr
        norm = self.grad_norm()
        if not math.isfinite(norm):
            raise FloatingPointError(f'Adam: gradient norm is {norm}; training diverged (lower the learning rate)')
        scale = self.clip_norm / norm if self.clip_norm > 0 and norm > self.clip_norm else 1.0
        self.step_count += 1
        t = self.step_count
        c1, c2 = 1 - self.beta1 ** t, 1 - self.beta2 ** t
        for n, p in self.params.items():
            if p.grad is None:
                continue
            g = p.grad * scale
            if self.weight_decay:
                g = g + self.weight_decay * p
            m, v = self.m[n], self.v[n]
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p.sub_((lr / c1) * m / ((v / c2).sqrt() + self.eps))
        return norm

    def state(self):
        return {'step': self.step_count, 'm': self.m, 'v': self.v}

    def load_state(self, state, where):
        for n, p in self.params.items():
            if n not in state['m'] or n not in state['v']:
                raise ValueError(f"{where}: no Adam moments for parameter '{n}'")
        self.step_count = state['step']
        with torch.no_grad():
            for n, p in self.params.items():
                self.m[n].copy_(state['m'][n].reshape(p.shape))
                self.v[n].copy_(state['v'][n].reshape(p.shape))


def learning_rate(lr, schedule, decay_per_epoch, warmup, step, epoch_progress, progress):
    """schedule.ts learningRate: exp decay per epoch, or cosine over the run's progress (None:
    a wall-clock run, no cosine), times a linear warm-up."""
    if schedule == 'exp':
        lr *= decay_per_epoch ** epoch_progress
    elif schedule == 'cosine' and progress is not None:
        lr *= 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if warmup > 0 and step < warmup:
        lr *= (step + 1) / warmup
    return lr


class WeightAverage:
    """avg ← d·avg + (1 − d)·w after every step, d = min(decay, (1 + t)/(10 + t))."""

    def __init__(self, params, decay, updates=0):
        self.params, self.decay, self.updates = dict(params), decay, updates
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self):
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for n, p in self.params.items():
            self.shadow[n].mul_(d).add_(p, alpha=1 - d)
        self.updates += 1

    @torch.no_grad()
    def swap(self):
        for n, p in self.params.items():
            t = p.detach().clone()
            p.copy_(self.shadow[n])
            self.shadow[n].copy_(t)
