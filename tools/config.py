"""Reading a config: `[config/NAME.py] [--key=value ...]` into a dataclass, every value of the
type its field declares; an unknown key, a wrong type or a broken preset stops with one line."""
import os
import sys
from dataclasses import fields

import torch

import data
from tools.gpt2 import GPT2_SHAPES


def fail(Config, msg):
    sys.exit(f'error: {msg}\nvalid keys: {", ".join(f.name for f in fields(Config))}')


def read(argv, Config, base=None):
    """Config(**base, then each preset file's assignments, then each --key=value, in order)."""
    valid = {f.name: f.type for f in fields(Config)}
    def convert(key, value, where):
        if key not in valid:
            fail(Config, f'unknown config key {key!r} ({where})')
        kind = valid[key]
        if isinstance(value, str) and kind is not str:
            if kind is bool and value.lower() in ('true', 'false', '1', '0'):
                return value.lower() in ('true', '1')
            try:
                value = kind(value)
            except ValueError:
                fail(Config, f'{key} must be {kind.__name__}, got {value!r} ({where})')
        if kind is float and type(value) is int:
            value = float(value)
        if type(value) is not kind:
            fail(Config, f'{key} must be {kind.__name__}, got {value!r} ({where})')
        return value
    overrides = {}
    for arg in argv:
        if arg.startswith('--'):
            key, eq, value = arg[2:].partition('=')
            if not eq:
                fail(Config, f'expected --key=value, got {arg!r}')
            overrides[key] = convert(key, value, arg)
        else:
            if not os.path.isfile(arg):
                fail(Config, f'config file {arg} does not exist')
            scope = {'__file__': arg}
            try:
                exec(compile(open(arg).read(), arg, 'exec'), scope)
            except SyntaxError as e:
                fail(Config, f'{arg}:{e.lineno}: {e.msg}')
            except Exception as e:  # a preset is Python: any error in it is the file's
                fail(Config, f'{arg}: {type(e).__name__}: {e}')
            for key, value in scope.items():
                if not key.startswith('_'):
                    overrides[key] = convert(key, value, arg)
    return Config(**{**(base or {}), **overrides})


def check(cfg, Config, choices, positive):
    """cfg, once every value is one the run can use: `choices` (key -> allowed values), the keys
    in `positive` at least 1, every other number not negative, and the combinations below."""
    error = lambda msg: fail(Config, msg)
    for key, allowed in choices.items():
        if getattr(cfg, key) not in allowed:
            error(f'{key} must be one of {allowed}, got {getattr(cfg, key)!r}')
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if f.name in positive and value < 1:
            error(f'{f.name} must be at least 1, got {value}')
        if f.type in (int, float) and value < 0:
            error(f'{f.name} must not be negative, got {value}')
    if cfg.n_embd % cfg.n_head:
        error(f'n_embd ({cfg.n_embd}) must be a multiple of n_head ({cfg.n_head})')
    if os.path.exists(cfg.out_dir) and not os.path.isdir(cfg.out_dir):
        error(f'out_dir {cfg.out_dir} is a file, not a folder')
    if not cfg.train_file:
        try:
            data.parse_task(cfg.task)  # a generated task must name its sizes
        except ValueError as e:
            error(str(e))
    try:
        kind = torch.device('cpu' if cfg.device == 'auto' else cfg.device).type
    except RuntimeError:
        kind = None
    if kind not in ('cpu', 'cuda', 'mps'):
        error(f"device must be auto, cpu, cuda, cuda:N or mps, got {cfg.device!r}")
    if cfg.init_from and cfg.init_from not in GPT2_SHAPES:
        error(f"init_from must be '' or one of {list(GPT2_SHAPES)}, got {cfg.init_from!r}")
    if cfg.init_from and (cfg.n_layer, cfg.n_head, cfg.n_embd) != GPT2_SHAPES[cfg.init_from]:
        error(f'init_from={cfg.init_from} needs (n_layer, n_head, n_embd) = {GPT2_SHAPES[cfg.init_from]}')
    return cfg


def pick_device(cfg):
    device = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if cfg.device == 'auto' else cfg.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit(f'error: device={cfg.device} asked for, but this torch sees no CUDA GPU (try --device=cpu)')
    return device
