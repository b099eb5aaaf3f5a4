"""Negative log-likelihoods as src/eval/likelihood.ts and src/ops/*-cross-entropy.ts compute them,
and the project's one bits/dim formula."""
import math

import torch
import torch.nn.functional as F


def model_input(labels, levels):
    """Level labels (B, C, H, W) → the network's input label / (L − 1) in [0, 1] (a division, as ours)."""
    return labels.float() / (levels - 1)


MIN_LOG_SCALE = -7.0  # ops/logistic-mixture.ts MIN_LOG_SCALE


def logistic_mixture_nll(params, labels, levels, mixtures):
    """−ln p of each pixel (its colours jointly) under a mixture of K discretised logistics: (B, H, W),
    in the dtype of `params`. params (B, K·max(3, C + 1)·C, H, W) laid out as
    src/ops/logistic-mixture.ts mixtureLayout says (slot j of colour c in filter j·C + c; slots
    [0, K) means, [K, 2K) log-scales, [2K, 3K) the mixture logits in colour 0's group and the
    coefficient on colour 0 in the others', [3K, 4K) the coefficient on colour 1); labels (B, C, H, W)
    level labels. Level v is 2v/(L − 1) − 1, the lowest and highest levels take the tails, and the
    log of a bin's mass is log σ(a) + log σ(−b) + log(1 − e^(b−a)) with the same small-width branch
    as ours, so nothing underflows to log 0."""
    B, C, H, W = labels.shape
    K, delta = mixtures, 1.0 / (levels - 1)
    p = params.reshape(B, -1, C, H, W)  # (B, slot, colour, H, W)
    v = labels.long()
    x = 2 * labels.to(params.dtype) / (levels - 1) - 1
    mean = p[:, :K]
    log_scale = p[:, K:2 * K].clamp(min=MIN_LOG_SCALE)  # no gradient below the clamp, as ours
    # Colour c's mean is shifted by Σ_{c' < c} tanh(coeff on c') · x_c' (G on R, B on R and G).
    shifts = [torch.zeros_like(mean[:, :, 0])]
    for c in range(1, C):
        shifts.append(sum(torch.tanh(p[:, (2 + cc) * K:(3 + cc) * K, c]) * x[:, None, cc] for cc in range(c)))
    mu = mean + torch.stack(shifts, dim=2)
    u = torch.exp(-log_scale)
    centred = x[:, None] - mu
    a, b = u * (centred + delta), u * (centred - delta)  # the bin's upper and lower edges, standard units
    lo, hi = (v == 0)[:, None], (v == levels - 1)[:, None]
    zero = params.new_zeros(())
    lp = torch.where(hi, zero, F.logsigmoid(a)) + torch.where(lo, zero, F.logsigmoid(-b))
    d = 2 * delta * u  # a − b
    wide = d > 1e-8
    log_width = torch.where(wide, torch.log(-torch.expm1(-torch.where(wide, d, torch.ones_like(d)))),
                            math.log(2 * delta) - log_scale - d / 2)
    lp = lp + torch.where(lo | hi, zero, log_width)
    logits = p[:, 2 * K:3 * K, 0]
    return torch.logsumexp(logits, dim=1) - torch.logsumexp(logits + lp.sum(2), dim=1)


def nll_per_image(logits, labels, config):
    """−ln p of each image in nats (B,), float64 sums. Softmax: logits (B, L·C, H, W) with level k
    of colour c in filter k·C + c; sigmoid: (B, C, H, W), the logit of level 1; logistic-mixture:
    the mixture's parameters, in float64 as ours."""
    B, C = labels.shape[0], config['channels']
    if config['likelihood'] == 'sigmoid':
        nll = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction='none')
    elif config['likelihood'] == 'logistic-mixture':
        nll = logistic_mixture_nll(logits.double(), labels, config['levels'], config['mixtures'])
    else:
        L = config['levels']
        lp = F.log_softmax(logits.reshape(B, L, C, *logits.shape[2:]), dim=1)
        nll = -lp.gather(1, labels.long().unsqueeze(1)).squeeze(1)
    return nll.reshape(B, -1).double().sum(1)


def loss(logits, labels, config):
    """The training loss: mean −ln p per dimension (nats), as a differentiable scalar."""
    if config['likelihood'] == 'sigmoid':
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    if config['likelihood'] == 'logistic-mixture':
        return logistic_mixture_nll(logits, labels, config['levels'], config['mixtures']).sum() / labels.numel()
    B, C, L = labels.shape[0], config['channels'], config['levels']
    return F.cross_entropy(logits.reshape(B, L, C, *logits.shape[2:]), labels.long())


def bits_per_dim(total_nats, images, dims):
    """bits/dim = Σ −ln p / (images · C·H·W) / ln 2, divided once."""
    if images <= 0 or dims <= 0:
        raise ValueError(f'bits_per_dim: need images > 0 and dims > 0, got {images}, {dims}')
    return total_nats / (images * dims) / math.log(2)


@torch.no_grad()
def evaluate(model, labels, classes, config, batch=64, device='cpu'):
    """Exact NLL of level labels (N, C, H, W) (uint8 tensor): {images, bits_per_dim, nats_per_image},
    in eval mode (no dropout); the model's mode is restored after."""
    n, dims, total = labels.shape[0], labels[0].numel(), 0.0
    training = model.training
    model.eval()
    try:
        for start in range(0, n, batch):
            y = labels[start:start + batch].to(device)
            cls = classes[start:start + batch].to(device) if classes is not None else None
            total += float(nll_per_image(model(model_input(y, config['levels']), cls), y, config).sum())
    finally:
        model.train(training)
    return {'images': n, 'bits_per_dim': bits_per_dim(total, n, dims), 'nats_per_image': total / n}
