"""Importing a state dict of the PyTorch PixelCNN++ port pclucas14/pixel-cnn-pp (its main.py saves
`model.state_dict()` as a .pth) as our checkpoint.

Our PixelCNN++ is that port's architecture under its parameter names (models/pixelcnn_plus_plus.py),
so the import infers the port's hyperparameters from the tensor shapes and changes only:
  - its 1×1 "nin" layers are Linear layers: `<layer>.lin_a.weight_v` (O, I) and `weight_g` (O, 1)
    become our `<layer>.weight_v` (O, I, 1, 1) and `weight_g` (O, 1, 1, 1), `lin_a.bias` our `bias`;
  - its output layer `nin_out` orders the mixture's parameters as its loss reads them (below);
    ours has them in mixtureLayout's order (src/ops/logistic-mixture.ts), so its rows (weights,
    gains and biases alike) are permuted;
  - every other tensor (the shifted convolutions, the transposed ones in ConvTranspose2d's
    (I, O, kh, kw) layout, their weight-norm gains) keeps its name and layout.
Its input is ours: x in [−1, 1] plus a plane of ones, 256 levels with bins of half-width 1/255,
no class conditioning. The config written: channels C, 256 levels, the logistic-mixture
likelihood with K components, F filters, R resnets, weightNorm (the port always uses it), dropout
0.5 (the port's rate; it drops whole channels where ours drops values, which matters for further
training only), and the image size given (default: the port's 32×32 RGB / 28×28 gray).

The port's output layer (discretized_mix_logistic_loss in its utils.py), K components:
  C = 3 (10K filters): [0, K) mixture logits, then per colour c in R, G, B a block of 3K at
      K + 3K·c: means, log-scales, coefficients, where the coefficient block of R holds G's on R,
      G's holds B's on R and B's holds B's on G;
  C = 1 (3K): [0, K) logits, [K, 2K) means, [2K, 3K) log-scales.
Ours (slot j of colour c in filter j·C + c): C = 3 has 12K filters, of which 2K (slot [3K, 4K) of
R and G) are read by nothing; they are imported as zero weights (gain 0 under weight
normalisation, whose direction v must not be zero) and zero biases."""
import inspect
import pickle

import torch

from .checkpoint import CheckpointError, load_params_into
from .config import ConfigError, parse_model_config
from .models import create_model

PORT = 'pclucas14/pixel-cnn-pp'
# The port trains on 8-bit images: its loss's bins have half-width 1/255.
LEVELS = 256
# Its image sizes (main.py: MNIST 1×28×28, CIFAR-10 3×32×32), the defaults of the config written.
DEFAULT_SIZE = {1: 28, 3: 32}
DROPOUT = 0.5


def port_name(name):
    """The port's name of one of our parameters: the nin layers' Linear sits in `lin_a`."""
    if '.nin_skip.' in name or name.startswith('nin_out.'):
        layer, tensor = name.rsplit('.', 1)
        return f'{layer}.lin_a.{tensor}'
    return name


def head_rows(C, K):
    """For each of our output filters, the port's output filter it takes (None: a filter ours has
    and reads nowhere)."""
    rows = [None] * (K * max(3, C + 1) * C)

    def put(slot, c, port):
        rows[slot * C + c] = port
    for k in range(K):
        if C == 1:
            put(k, 0, K + k)           # mean
            put(K + k, 0, 2 * K + k)   # log-scale
            put(2 * K + k, 0, k)       # mixture logit
            continue
        for c in range(3):
            block = K + 3 * K * c
            put(k, c, block + k)           # mean
            put(K + k, c, block + K + k)   # log-scale
        coeff = lambda holder: K + 3 * K * holder + 2 * K + k  # the port's coefficient block of colour `holder`
        put(2 * K + k, 0, k)           # mixture logit (with R in ours)
        put(2 * K + k, 1, coeff(0))    # G on R
        put(2 * K + k, 2, coeff(1))    # B on R
        put(3 * K + k, 2, coeff(2))    # B on G
    return rows


def read_state_dict(path):
    """The tensors of a .pth holding a state dict (plain, or nn.DataParallel's with `module.` keys),
    as float32 by name. Where torch.load has weights_only (1.13+), nothing but tensors and
    containers is unpickled."""
    safe = {'weights_only': True} if 'weights_only' in inspect.signature(torch.load).parameters else {}
    try:
        obj = torch.load(path, map_location='cpu', **safe)
    except FileNotFoundError:
        raise CheckpointError(f'{path}: no such file') from None
    except IsADirectoryError:
        raise CheckpointError(f'{path}: a directory, not a .pth file') from None
    except OSError as e:
        raise CheckpointError(f'{path}: cannot read ({e.strerror})') from None
    except pickle.UnpicklingError as e:
        # torch's safe unpickler puts the reason last, after advice to unpickle unsafely.
        why = str(e).strip().split('\n')[0].split('WeightsUnpickler error: ')[-1]
        raise CheckpointError(f'{path}: not a plain state dict of tensors ({why}); the port saves model.state_dict()') from None
    except Exception as e:  # torch.load raises many kinds on files that are not PyTorch's
        first = str(e).strip().split('\n')[0]
        raise CheckpointError(f'{path}: not a PyTorch file torch.load can read ({type(e).__name__}: {first})') from None
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path}: holds a {type(obj).__name__}, not a state dict (the port saves model.state_dict())')
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(f'{path}: entry {k!r} is not a tensor ({type(v).__name__}): not a state dict '
                                  '(the port saves model.state_dict())')
        if not v.is_floating_point():
            raise CheckpointError(f"{path}: tensor '{k}' holds {v.dtype} values, not floating point")
    prefixed = [k.startswith('module.') for k in obj]
    if any(prefixed):
        if not all(prefixed):
            odd = next(k for k in obj if not k.startswith('module.'))
            raise CheckpointError(f"{path}: tensor '{odd}' lacks the 'module.' prefix of the others (nn.DataParallel's)")
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return {k: v.float() for k, v in obj.items()}


def _shape(t):
    return f"[{', '.join(map(str, t.shape))}]"


def infer_config(path, sd, height=None, width=None):
    """Our config for the port's model in `sd`: C, F, R, K and weight normalisation from the shapes."""
    wn = 'u_init.conv.weight_v' in sd
    w = sd.get('u_init.conv.weight_v' if wn else 'u_init.conv.weight')
    if w is None:
        raise CheckpointError(f"{path}: no tensor 'u_init.conv.weight_v' (nor 'u_init.conv.weight'): not a state dict of "
                              f"{PORT}'s PixelCNN")
    if w.dim() != 4 or w.shape[1] not in (2, 4) or tuple(w.shape[2:]) != (2, 3) or w.shape[0] < 1:
        raise CheckpointError(f"{path}: tensor 'u_init.conv.{'weight_v' if wn else 'weight'}' is {_shape(w)}, expected "
                              '[nr_filters, 2 or 4, 2, 3] (1 or 3 colours and the plane of ones)')
    F, C = int(w.shape[0]), int(w.shape[1]) - 1
    suffix = 'weight_v' if wn else 'weight'
    R = 0
    while f'up_layers.0.u_stream.{R}.conv_input.conv.{suffix}' in sd:
        R += 1
    head_name = f'nin_out.lin_a.{suffix}'
    head = sd.get(head_name)
    if head is None:
        raise CheckpointError(f"{path}: no tensor '{head_name}' (the output layer): not a state dict of {PORT}'s PixelCNN")
    per = 10 if C == 3 else 3
    if head.dim() != 2 or head.shape[1] != F or head.shape[0] % per or head.shape[0] == 0:
        raise CheckpointError(f"{path}: tensor '{head_name}' is {_shape(head)}, expected [{per}·nr_logistic_mix, {F}] "
                              f'(a mixture of discretised logistics over {C} colour{"s" if C > 1 else ""}, nr_filters {F})')
    size = DEFAULT_SIZE[C]
    raw = {'arch': 'pixelcnn++', 'channels': C, 'levels': LEVELS, 'likelihood': 'logistic-mixture', 'mixtures': int(head.shape[0]) // per,
           'height': size if height is None else height, 'width': size if width is None else width, 'numClasses': 0,
           'filters': F, 'resnets': R, 'dropout': DROPOUT, 'weightNorm': wn}
    try:
        return parse_model_config(raw, where=f'{path}: the model does not fit our PixelCNN++ config', name=_flag_name)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None


def _flag_name(key):
    """Config keys in messages: the importer's flags for the size, the port's names for the rest."""
    return {'height': '--height', 'width': '--width', 'filters': 'nr_filters', 'resnets': 'nr_resnet',
            'mixtures': 'nr_logistic_mix'}.get(key, key)


def convert(path, sd, config):
    """Our model with the port's weights in `sd` (names and layouts mapped); every tensor of `sd`
    must find its place with its exact shape."""
    model = create_model(config)
    C, K = config['channels'], config['mixtures']
    rows = head_rows(C, K)
    used, params = set(), {}
    for name, p in model.named_parameters():
        src = port_name(name)
        t = sd.get(src)
        head = name.startswith('nin_out.')
        # The port's shape: a Linear's (O, I) / gain (O, 1) for the nin layers; the output layer has the port's row count.
        want = list(p.shape[:2]) if src != name else list(p.shape)
        if head:
            want[0] = (10 if C == 3 else 3) * K
        if t is None:
            raise CheckpointError(f"{path}: no tensor '{src}' {want} (nr_filters {config['filters']}, nr_resnet {config['resnets']}, "
                                  f"{C} colour{'s' if C > 1 else ''}): not {PORT}'s PixelCNN, or a different architecture")
        if list(t.shape) != want:
            raise CheckpointError(f"{path}: tensor '{src}' is {_shape(t)}, expected {want} for nr_filters {config['filters']}, "
                                  f"nr_resnet {config['resnets']}, nr_logistic_mix {K}: a different architecture")
        used.add(src)
        if head:
            out = torch.zeros(p.shape[0], *t.shape[1:])
            if name.endswith('.weight_v'):
                out.fill_(1.0)  # unread filters: any direction, their gain is 0
            for o, r in enumerate(rows):
                if r is not None:
                    out[o] = t[r]
            t = out
        params[name] = t.reshape(p.shape).contiguous()
    extra = sorted(k for k in sd if k not in used)
    if extra:
        more = f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''
        raise CheckpointError(f"{path}: tensor '{extra[0]}' {_shape(sd[extra[0]])}{more} has no place in {PORT}'s unconditional "
                              'PixelCNN: a class-conditional or otherwise changed model cannot be imported')
    load_params_into(model, params, path)
    return model
