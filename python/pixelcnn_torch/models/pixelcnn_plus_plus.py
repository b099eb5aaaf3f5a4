"""PixelCNN++ (Salimans et al. 2017) as src/models/pixelcnn-plus-plus.ts builds it (read its header):
two streams over three resolutions, u (rows above the pixel) and ul (above and to the left), chains
of gated residual blocks, an up pass that keeps every output and a down pass that reads them back;
with "weightNorm", torch.nn.utils.weight_norm (default dim = 0, as the port applies it) on every
conv, nin and transposed conv: `weight_g`, `weight_v` instead of `weight`. Parameter names and layouts are ours (those of the PyTorch port
pclucas14/pixel-cnn-pp, a 1×1 "nin" stored as a conv (O, I, 1, 1)), so checkpoints load either way.

The shifted convolutions are plain convolutions of a padded input: a kh×kw window whose last row is
the output's row ("down-shifted": centred on the column, "down-right-shifted": ending at it);
stride 2 keeps the outputs at even positions, and the transposed ones are ConvTranspose2d cropped
to the window's alignment."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import choice, float_field, int_field

DEFAULTS = {'arch': 'pixelcnn++', 'channels': 1, 'levels': 256, 'likelihood': 'softmax', 'mixtures': 10, 'height': 28,
            'width': 28, 'numClasses': 0, 'filters': 32, 'resnets': 1, 'dropout': 0.1, 'weightNorm': False}

SPEC = {
    'arch': 'pixelcnn++',
    'title': 'PixelCNN++',
    'fields': {'filters': int_field(1, 4096), 'resnets': int_field(0, 64), 'dropout': float_field(0, 0.95),
               # Optional: checkpoints written before it existed have none and load without it.
               'weightNorm': {**choice(False, True), 'optional': True}},
    'defaults': DEFAULTS,
}

RESOLUTIONS = 3


def concat_elu(x):
    """elu([x, −x]) along channels: keeps both signs where a ReLU would drop one."""
    return F.elu(torch.cat([x, -x], dim=1))


def shift_down(x):
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def shift_right(x):
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


class DownShiftedConv2d(nn.Module):
    """Output (r, c) reads rows r−kh+1..r and columns c−(kw−1)/2..c+(kw−1)/2 (kw odd)."""

    def __init__(self, in_f, out_f, kernel=(2, 3), stride=1):
        super().__init__()
        kh, kw = kernel
        self.pad = ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0)
        self.conv = nn.Conv2d(in_f, out_f, kernel, stride=stride)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class DownRightShiftedConv2d(nn.Module):
    """Output (r, c) reads rows r−kh+1..r and columns c−kw+1..c."""

    def __init__(self, in_f, out_f, kernel=(2, 2), stride=1):
        super().__init__()
        kh, kw = kernel
        self.pad = (kw - 1, 0, kh - 1, 0)
        self.conv = nn.Conv2d(in_f, out_f, kernel, stride=stride)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class UpsizeConv2d(nn.Module):
    """The transposed stride-2 convolution back to (h, w): input (i, j) feeds outputs (2i + a,
    2j + b) at offsets a ∈ [0, kh), b ∈ [−(kw − 1)/2, (kw − 1)/2] (`centred`, the u stream) or
    b ∈ [0, kw) (the ul stream), so an output never reads a pixel after its own."""

    def __init__(self, filters, kernel, centred):
        super().__init__()
        self.left = (kernel[1] - 1) // 2 if centred else 0
        self.deconv = nn.ConvTranspose2d(filters, filters, kernel, stride=2)

    def forward(self, x, size):
        h, w = size
        return self.deconv(x)[:, :, :h, self.left:self.left + w]


class GatedResnet(nn.Module):
    """x + a·σ(b), [a, b] = conv_out(dropout(concat_elu(conv_input(concat_elu(x)) + nin_skip(concat_elu(skip)))))
    (+ the class embedding on [a, b]). `skip` filters of the shortcut input in units of F (0: none)."""

    def __init__(self, conv, filters, skip, num_classes, dropout):
        super().__init__()
        self.conv_input = conv(2 * filters, filters)
        if skip > 0:
            self.nin_skip = nn.Conv2d(2 * skip * filters, filters, 1)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(2 * filters, 2 * filters)
        with torch.no_grad():  # every block starts close to the identity (the reference's init_scale)
            self.conv_out.conv.weight.mul_(0.1)
            self.conv_out.conv.bias.mul_(0.1)
        if num_classes > 0:
            self.cond = nn.Embedding(num_classes, 2 * filters)
            nn.init.normal_(self.cond.weight, std=0.05)

    def forward(self, x, skip=None, classes=None):
        c = self.conv_input(concat_elu(x))
        if skip is not None:
            c = c + self.nin_skip(concat_elu(skip))
        c = self.conv_out(self.dropout(concat_elu(c)))
        if classes is not None:
            c = c + self.cond(classes)[:, :, None, None]
        a, b = c.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class Stage(nn.Module):
    """One resolution's blocks: the up pass's u blocks read no shortcut and its ul blocks read u;
    the down pass's u blocks read the kept u, its ul blocks the new u and the kept ul."""

    def __init__(self, blocks, down, filters, num_classes, dropout):
        super().__init__()
        self.u_stream = nn.ModuleList(GatedResnet(DownShiftedConv2d, filters, 1 if down else 0, num_classes, dropout)
                                      for _ in range(blocks))
        self.ul_stream = nn.ModuleList(GatedResnet(DownRightShiftedConv2d, filters, 2 if down else 1, num_classes, dropout)
                                       for _ in range(blocks))


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        from . import output_channels
        self.config = dict(cfg)
        C, Fl, R, K, p = cfg['channels'], cfg['filters'], cfg['resnets'], cfg['numClasses'], cfg['dropout']
        self.down_layers = nn.ModuleList(Stage(R if s == 0 else R + 1, True, Fl, K, p) for s in range(RESOLUTIONS))
        self.up_layers = nn.ModuleList(Stage(R, False, Fl, K, p) for _ in range(RESOLUTIONS))
        self.downsize_u_stream = nn.ModuleList(DownShiftedConv2d(Fl, Fl, stride=2) for _ in range(RESOLUTIONS - 1))
        self.downsize_ul_stream = nn.ModuleList(DownRightShiftedConv2d(Fl, Fl, stride=2) for _ in range(RESOLUTIONS - 1))
        self.upsize_u_stream = nn.ModuleList(UpsizeConv2d(Fl, (2, 3), True) for _ in range(RESOLUTIONS - 1))
        self.upsize_ul_stream = nn.ModuleList(UpsizeConv2d(Fl, (2, 2), False) for _ in range(RESOLUTIONS - 1))
        # The inputs are 2x − 1 and a plane of ones (which tells the image from the zero padding).
        self.u_init = DownShiftedConv2d(C + 1, Fl, (2, 3))
        self.ul_init = nn.ModuleList([DownShiftedConv2d(C + 1, Fl, (1, 3)),        # row r, shifted down
                                      DownRightShiftedConv2d(C + 1, Fl, (2, 1))])  # column c, shifted right
        self.nin_out = nn.Conv2d(Fl, output_channels(cfg), 1)
        if cfg['weightNorm']:
            # After the init above (conv_out's 0.1 included): v = that weight, g = ‖v‖, the same function.
            for m in list(self.modules()):
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.utils.weight_norm(m)

    def forward(self, x, classes=None):
        K = self.config['numClasses']
        if K > 0:
            if classes is None:
                raise ValueError(f'PixelCNN++: the model is class-conditional ({K} classes): forward needs one class label per image')
            if classes.shape != (x.shape[0],):
                raise ValueError(f'PixelCNN++: {tuple(classes.shape)} class labels for a batch of {x.shape[0]} images')
            if len(classes) and (int(classes.min()) < 0 or int(classes.max()) >= K):
                raise ValueError(f'PixelCNN++: a class outside [0, {K})')
        else:
            classes = None
        sizes = [tuple(x.shape[2:])]
        for _ in range(RESOLUTIONS - 1):
            sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
        xin = torch.cat([2 * x - 1, torch.ones_like(x[:, :1])], dim=1)
        u = shift_down(self.u_init(xin))
        ul = shift_down(self.ul_init[0](xin)) + shift_right(self.ul_init[1](xin))

        us, uls = [u], [ul]
        for s, stage in enumerate(self.up_layers):
            for bu, bul in zip(stage.u_stream, stage.ul_stream):
                u = bu(u, None, classes)
                ul = bul(ul, u, classes)
                us.append(u)
                uls.append(ul)
            if s < RESOLUTIONS - 1:
                u = self.downsize_u_stream[s](u)
                ul = self.downsize_ul_stream[s](ul)
                us.append(u)
                uls.append(ul)

        u, ul = us.pop(), uls.pop()
        for s, stage in enumerate(self.down_layers):
            for bu, bul in zip(stage.u_stream, stage.ul_stream):
                u = bu(u, us.pop(), classes)
                ul = bul(ul, torch.cat([u, uls.pop()], dim=1), classes)
            if s < RESOLUTIONS - 1:
                size = sizes[RESOLUTIONS - 2 - s]
                u = self.upsize_u_stream[s](u, size)
                ul = self.upsize_ul_stream[s](ul, size)
        return self.nin_out(F.elu(ul))
