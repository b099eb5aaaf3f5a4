"""safetensors read/write by hand (json header + little-endian data), as src/train/safetensors.ts:
F32 written, tensors packed in name order, header padded with spaces to a multiple of 8; F32, F64,
F16 and BF16 read (as float32). No dependency on the `safetensors` package."""
import json
import struct

import numpy as np
import torch

MAX_HEADER_BYTES = 100_000_000
_NP = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2'}


class SafetensorsError(ValueError):
    pass


def encode(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().to('cpu', torch.float32).contiguous()
        b = t.numpy().astype('<f4', copy=False).tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def decode(data, where):
    """(tensors {name: float32 tensor}, metadata {str: str}); a malformed file is a SafetensorsError naming `where`."""
    def bad(msg):
        raise SafetensorsError(f'{where}: {msg}')
    if len(data) < 8:
        bad(f'not a safetensors file: {len(data)} bytes, too short for the 8-byte header length')
    (n,) = struct.unpack('<Q', data[:8])
    if n > MAX_HEADER_BYTES:
        bad(f'header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)')
    if 8 + n > len(data):
        bad(f'header length {n} exceeds the file ({len(data)} bytes): truncated or not a safetensors file')
    try:
        header = json.loads(data[8:8 + n].decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        bad(f'header is not valid JSON ({e})')
    if not isinstance(header, dict):
        bad('header is not a JSON object')
    base, out, meta = 8 + n, {}, {}
    for name, e in header.items():
        if name == '__metadata__':
            if not isinstance(e, dict) or not all(isinstance(v, str) for v in e.values()):
                bad('__metadata__ is not an object of strings')
            meta = dict(e)
            continue
        try:
            dtype, shape, (b, end) = e['dtype'], [int(d) for d in e['shape']], e['data_offsets']
        except (KeyError, TypeError, ValueError):
            bad(f"tensor '{name}': malformed entry {json.dumps(e)}")
        width = {'F32': 4, 'F64': 8, 'F16': 2, 'BF16': 2}.get(dtype)
        if width is None:
            bad(f"tensor '{name}': unsupported dtype '{dtype}' (supported: F32, F64, F16, BF16)")
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= b <= end <= len(data) - base) or end - b != count * width:
            bad(f"tensor '{name}': data_offsets [{b}, {end}] do not hold {dtype}{shape} inside the file")
        raw = data[base + b:base + end]
        if dtype == 'BF16':
            a = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=_NP[dtype]).astype(np.float32)
        out[name] = torch.from_numpy(a.reshape(shape).copy())
    return out, meta


def read(path):
    with open(path, 'rb') as f:
        return decode(f.read(), path)
