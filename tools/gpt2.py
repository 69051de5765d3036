"""OpenAI's GPT-2 weights for `--init_from`: downloaded once, read from .safetensors without
extra packages, renamed to gpt.py's parameters."""
import functools
import json
import math
import os
import sys
import urllib.request

import numpy as np
import torch

from gpt import GPT, GPTConfig

GPT2_SHAPES = {'gpt2': (12, 12, 768), 'gpt2-medium': (24, 16, 1024), 'gpt2-large': (36, 20, 1280)}  # (n_layer, n_head, n_embd)


def from_pretrained(name, cache_dir=None):
    """OpenAI's GPT-2 weights (gpt2, gpt2-medium, gpt2-large), downloaded once into cache_dir."""
    if name not in GPT2_SHAPES:
        raise ValueError(f'unknown GPT-2 {name!r}: choose one of {", ".join(GPT2_SHAPES)}')
    n_layer, n_head, n_embd = GPT2_SHAPES[name]
    cache_dir = cache_dir or os.path.join(os.path.expanduser('~'), '.cache', 'icot')
    path = download(f'https://huggingface.co/openai-community/{name}/resolve/main/model.safetensors',
                    os.path.join(cache_dir, f'{name}.safetensors'))
    model = GPT(GPTConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=1024, vocab_size=50257))
    model.load_state_dict(from_gpt2_state_dict(read_safetensors(path)))
    return model


@functools.cache  # read once a run, however many models start from it
def state_dict(name):
    return from_pretrained(name).state_dict()


def from_gpt2_state_dict(sd):
    """HuggingFace / OpenAI GPT-2 tensors -> this file's names. GPT-2 stores its linear layers
    as Conv1D, (in, out), so those weights are transposed; the causal-mask buffers are dropped."""
    out = {}
    for k, v in sd.items():
        if k.endswith(('.attn.bias', '.attn.masked_bias')) or k == 'lm_head.weight':
            continue  # masks are recomputed; lm_head is tied to wte
        k = 'transformer.' + k.removeprefix('transformer.')
        out[k] = v.t() if k.endswith(('c_attn.weight', 'c_proj.weight', 'c_fc.weight')) else v
    out['lm_head.weight'] = out['transformer.wte.weight']
    return out


def read_safetensors(path):
    """name -> tensor from a .safetensors file (8-byte header size, JSON header, raw data)."""
    dtypes = {'F32': np.float32, 'F16': np.float16}
    with open(path, 'rb') as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), 'little')))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name != '__metadata__':
            start, end = info['data_offsets']
            array = np.frombuffer(data, dtype=dtypes[info['dtype']], count=math.prod(info['shape']) or 0, offset=start)
            tensors[name] = torch.from_numpy(array.reshape(info['shape']).astype(np.float32))
    return tensors


def download(url, path):
    """Fetch url to path once, showing progress; a failed or interrupted download leaves only
    the `.part` file it was writing, which is removed, so no half file is ever mistaken for a
    checkpoint."""
    if os.path.isfile(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = path + '.part'
    try:
        with urllib.request.urlopen(url) as r, open(part, 'wb') as f:
            total, done = int(r.headers.get('Content-Length', 0)), 0
            while chunk := r.read(1 << 20):
                f.write(chunk)
                done += len(chunk)
                print(f'\rdownloading {os.path.basename(path)}: {done / 2**20:.0f}'
                      f'{f" / {total / 2**20:.0f}" if total else ""} MiB', end='', file=sys.stderr, flush=True)
        print(file=sys.stderr)
        os.replace(part, path)
    except BaseException as e:
        if os.path.exists(part):
            os.remove(part)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise RuntimeError(f'downloading {url} failed ({e!r}); check the connection and run again, '
                           f'or put the file at {path} yourself') from None
    return path
