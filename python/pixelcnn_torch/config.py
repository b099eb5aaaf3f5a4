"""The model config reader: the same keys, ranges and rules as src/models/config.ts, and as strict
(every field required but the optional ones, no unknown keys, integers that are integers, finite
numbers). An architecture module
declares its ConfigSpec as SPEC (see models/pixelcnn.py); BASE_FIELDS are what every one shares."""


class ConfigError(ValueError):
    """A config value that is missing, unknown or out of range; the message is one line."""


def int_field(lo, hi, parity=None, optional=False):
    return {'kind': 'int', 'min': lo, 'max': hi, 'parity': parity, 'optional': optional}


def float_field(lo, hi):
    return {'kind': 'float', 'min': lo, 'max': hi}


def choice(*values):
    return {'kind': 'choice', 'values': values}


BASE_FIELDS = {
    'channels': choice(1, 3),
    'levels': int_field(2, 256),
    'likelihood': choice('softmax', 'sigmoid', 'logistic-mixture'),
    # Optional: checkpoints written before it existed have none and load with the default.
    'mixtures': int_field(1, 64, optional=True),
    'height': int_field(1, 4096),
    'width': int_field(1, 4096),
    'numClasses': int_field(0, 1000),
}


def _show(v):
    """JSON.stringify's text: JavaScript writes 3.0 as 3 and a non-finite number as null."""
    import json
    import math
    if isinstance(v, float):
        if not math.isfinite(v):
            return 'null'
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def _quote(v):
    """A key or architecture name as the user wrote it (config.ts quote)."""
    return f"'{v}'" if isinstance(v, str) else _show(v)


def _closest(key, known):
    """The closest known key to a misspelt one (at most two edits), as config.ts suggests."""
    best, best_d = None, 3
    for k in known:
        a, b = key.lower(), k.lower()
        d = list(range(len(b) + 1))
        for i in range(1, len(a) + 1):
            prev, d[0] = d[0], i
            for j in range(1, len(b) + 1):
                t = d[j]
                d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
                prev = t
        if d[len(b)] < best_d:
            best_d, best = d[len(b)], k
    return best


def _is_int(v):
    # JSON 3 and 3.0 are the same number to JavaScript; True is not a number.
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _check(spec, v, got):
    if spec['kind'] == 'choice':
        def same(c):  # JSON's types: a string, a boolean (never the number 0 or 1) or a number
            if isinstance(c, bool):
                return v is c
            return (v == c and isinstance(v, str)) if isinstance(c, str) else (_is_int(v) and v == c)
        ok = any(same(c) for c in spec['values'])
        return None if ok else f"must be {' or '.join(_show(c) for c in spec['values'])}, got {_show(v)}"
    if spec['kind'] == 'float':
        import math
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and spec['min'] <= v <= spec['max']
        return None if ok else f"must be a number in [{_show(spec['min'])}, {_show(spec['max'])}], got {_show(v)}"
    lo = got.get('channels') if spec['min'] == 'channels' else spec['min']
    parity = spec.get('parity')
    if _is_int(v) and lo <= v <= spec['max'] and (parity is None or abs(int(v) % 2) == (1 if parity == 'odd' else 0)):
        return None
    kind = f'an {parity} integer' if parity else 'an integer'
    why = ' (at least one filter per colour)' if spec['min'] == 'channels' else ''
    return f"must be {kind} in [{lo}, {spec['max']}]{why}, got {_show(v)}"


def parse_config(spec, raw, where=None, name=lambda k: k, defaults=False):
    """parseConfig of config.ts: a fresh dict with exactly the spec's keys, or a ConfigError."""
    def fail(msg):
        raise ConfigError(f'{where}: {msg}' if where else msg)
    if not isinstance(raw, dict):
        fail(f'the model config must be an object, got {_show(raw)}')
    if raw.get('arch') != spec['arch']:
        fail(f"{name('arch')} must be '{spec['arch']}', got {_quote(raw.get('arch'))}")
    fields = {**BASE_FIELDS, **spec['fields']}
    known = ['arch', *fields]
    for k in raw:
        if k not in known:
            near = _closest(k, known)
            fail(f"unknown key '{k}' in the {spec['title']} config" + (f" (did you mean '{near}'?)" if near else '')
                 + f"; known keys: {', '.join(known)}")
    out = {'arch': spec['arch']}
    for k, f in fields.items():
        if k in raw:
            v = raw[k]
        elif defaults or f.get('optional'):
            v = spec['defaults'][k]
        else:
            fail(f'{name(k)} is missing')
        out[k] = int(v) if f['kind'] == 'int' and _is_int(v) else v
        problem = _check(f, v, out)
        if problem:
            fail(f'{name(k)} {problem}')
    if out['likelihood'] == 'sigmoid' and out['levels'] != 2:
        fail(f"the sigmoid likelihood needs {name('levels')} = 2, got {out['levels']}")
    if out['likelihood'] == 'logistic-mixture' and out['levels'] < 3:
        fail(f"the logistic-mixture likelihood needs {name('levels')} ≥ 3, got {out['levels']} "
             f"(for binary images use {name('likelihood')} softmax or sigmoid)")
    # One config per model: K means nothing to the other likelihoods, so it keeps its default there.
    if out['likelihood'] != 'logistic-mixture' and out['mixtures'] != spec['defaults']['mixtures']:
        fail(f"{name('mixtures')} applies only to the logistic-mixture likelihood, not {name('likelihood')} '{out['likelihood']}'")
    rule = spec.get('rules')
    problem = rule(out, name) if rule else None
    if problem:
        fail(problem)
    return out


def parse_model_config(raw, where=None, name=lambda k: k, defaults=False):
    """parseModelConfig: dispatches on "arch" to the architecture's SPEC (models/ARCHS)."""
    from .models import ARCHS

    def fail(msg):
        raise ConfigError(f'{where}: {msg}' if where else msg)
    if not isinstance(raw, dict):
        fail(f'the model config must be an object, got {_show(raw)}')
    arch = raw.get('arch')
    if arch is None:
        fail(f"the model config has no \"arch\" ({name('arch')})")
    if arch not in ARCHS:
        fail(f"unknown model architecture {_quote(arch)} (known: {', '.join(ARCHS)})")
    return parse_config(ARCHS[arch].SPEC, raw, where, name, defaults)
