"""The transformer: a GPT-2 whose every layer can be read and rewritten.

    logits, loss, hiddens = model(idx, targets, hook)

`hiddens[l]` is the residual stream entering block l (l = 0 is token + position embedding);
`hook(l, x) -> x` runs on that stream before block l. The teacher reads `hiddens`, the student
and the emulator write through `hook`. `generate` decodes greedily with a key/value cache.
"""
import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block_size: int = 1024
    vocab_size: int = 50257
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0, 'n_embd must be a multiple of n_head'
        self.n_head, self.dropout = config.n_head, config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        ### BEGIN SOLUTION attention
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:  # decoding: attend to everything cached so far, then extend the cache
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        # a new token may see every cached one, so causality only matters for a T > 1 chunk
        causal = T > 1
        if causal and k.size(2) != T:
            raise ValueError('a multi-token chunk after a filled cache is not supported')
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        ### END SOLUTION
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate='tanh')))


class Block(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


def replace_at(x, pos, v):
    """x with x[b, pos[b]] replaced by v[b]: the write of the student and the emulator.
    x (B, T, C), pos (B,), v (B, C); out of place, so gradients flow to v."""
    mask = torch.arange(x.size(1), device=x.device) == pos[:, None]  # (B, T)
    return torch.where(mask[..., None], v[:, None, :].to(x.dtype), x)


def mlp(n_in, C):
    """The per-layer MLP of the student (n_in = C) and the emulator (n_in = 2C), as in the paper."""
    return nn.Sequential(nn.Linear(n_in, 4 * C), nn.ReLU(), nn.Linear(4 * C, C))


class GPT(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in GPT-2
        self.apply(self._init_weights)
        # GPT-2 scales the residual projections down by the number of residual additions
        for name, p in self.named_parameters():
            if name.endswith('c_proj.weight'):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def body(self, idx, hook=None, caches=None, pos0=0):
        """The residual stream through every block: (x after the last block, hiddens)."""
        B, T = idx.shape
        if pos0 + T > self.config.block_size:
            raise ValueError(f'sequence of {pos0 + T} tokens exceeds block_size {self.config.block_size}')
        pos = torch.arange(pos0, pos0 + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)
        hiddens = []
        ### BEGIN SOLUTION hook
        for l, block in enumerate(self.transformer.h):
            if hook is not None:
                x = hook(l, x)
            hiddens.append(x)  # the stream *entering* block l, as in the paper (HF hidden_states[:-1])
            x = block(x, None if caches is None else caches[l])
        ### END SOLUTION
        return x, hiddens

    def forward(self, idx, targets=None, hook=None):
        x, hiddens = self.body(idx, hook)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1), ignore_index=-1)
        return logits, loss, hiddens

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, hook=None, stop_token=None, stops=1):
        """Greedy decoding with a key/value cache. `hook` acts on the prompt pass only, so what
        it writes lives on in the cache. Stops early once every row has emitted `stop_token`
        `stops` times (2 for a teacher: one eos ends the CoT, the next the answer).
        idx (B, T) -> (B, T + new)."""
        max_new_tokens = min(max_new_tokens, self.config.block_size - idx.size(1))  # never past wpe
        caches = [[] for _ in self.transformer.h]
        x, _ = self.body(idx, hook, caches)
        out, seen = [idx], torch.zeros(idx.size(0), dtype=torch.long, device=idx.device)
        for i in range(max_new_tokens):
            nxt = self.lm_head(self.transformer.ln_f(x[:, -1:])).argmax(-1)  # (B, 1)
            out.append(nxt)
            if stop_token is not None:
                seen += nxt[:, 0] == stop_token
                if bool((seen >= stops).all()):
                    break
            if i + 1 < max_new_tokens:
                x, _ = self.body(nxt, None, caches, pos0=idx.size(1) + i)
        return torch.cat(out, 1)


def configure_optimizers(modules, weight_decay, learning_rate, betas=(0.9, 0.95), device_type='cpu'):
    """AdamW over the trainable parameters of `modules` (a GPT and whatever trains beside it);
    weight decay on matrices and embeddings only, never on biases or norms."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    params = list({id(p): p for p in params}.values())  # a tied or shared weight counts once
    groups = [dict(params=[p for p in params if p.dim() >= 2], weight_decay=weight_decay),
              dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0)]
    fused = device_type == 'cuda' and 'fused' in inspect.signature(torch.optim.AdamW).parameters
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **(dict(fused=True) if fused else {}))


def autocast(device):
    """bf16 on a CUDA GPU, full precision elsewhere."""
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return torch.autocast('cpu', enabled=False)
