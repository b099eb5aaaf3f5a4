"""Negative log-likelihoods as src/eval/likelihood.ts and src/ops/*-cross-entropy.ts compute them,
and the project's one bits/dim formula."""
import math

import torch
import torch.nn.functional as F


def model_input(labels, levels):
    """Level labels (B, C, H, W) → the network's input label / (L − 1) in [0, 1] (a division, as ours)."""
    return labels.float() / (levels - 1)


def nll_per_image(logits, labels, config):
    """−ln p of each image in nats (B,), float64 sums. Softmax: logits (B, L·C, H, W) with level k
    of colour c in filter k·C + c; sigmoid: (B, C, H, W), the logit of level 1."""
    B, C = labels.shape[0], config['channels']
    if config['likelihood'] == 'sigmoid':
        nll = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction='none')
    else:
        L = config['levels']
        lp = F.log_softmax(logits.reshape(B, L, C, *logits.shape[2:]), dim=1)
        nll = -lp.gather(1, labels.long().unsqueeze(1)).squeeze(1)
    return nll.reshape(B, -1).double().sum(1)


def loss(logits, labels, config):
    """The training loss: mean −ln p per dimension (nats), as a differentiable scalar."""
    if config['likelihood'] == 'sigmoid':
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    B, C, L = labels.shape[0], config['channels'], config['levels']
    return F.cross_entropy(logits.reshape(B, L, C, *logits.shape[2:]), labels.long())


def bits_per_dim(total_nats, images, dims):
    """bits/dim = Σ −ln p / (images · C·H·W) / ln 2, divided once."""
    if images <= 0 or dims <= 0:
        raise ValueError(f'bits_per_dim: need images > 0 and dims > 0, got {images}, {dims}')
    return total_nats / (images * dims) / math.log(2)


@torch.no_grad()
def evaluate(model, labels, classes, config, batch=64, device='cpu'):
    """Exact NLL of level labels (N, C, H, W) (uint8 tensor): {images, bits_per_dim, nats_per_image}."""
    n, dims, total = labels.shape[0], labels[0].numel(), 0.0
    for start in range(0, n, batch):
        y = labels[start:start + batch].to(device)
        cls = classes[start:start + batch].to(device) if classes is not None else None
        total += float(nll_per_image(model(model_input(y, config['levels']), cls), y, config).sum())
    return {'images': n, 'bits_per_dim': bits_per_dim(total, n, dims), 'nats_per_image': total / n}
