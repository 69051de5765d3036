"""Reading a config: `[config/NAME.py] [--key=value ...]` into a dataclass, every value of the
type its field declares; an unknown key, a wrong type or a broken preset stops with one line."""
import os
import sys
from dataclasses import fields


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
