"""The thought emulator: predicts the teacher's states z (B, L, C) from the input alone.

A GPT runs on ` {input} {eos}`. Before block l it reads its own stream at sep1 (c_l), predicts
zh_l = mlp_l([c_l; m_l]), and writes back O([o_l; ctx_l]), where an LSTM carries o_l across
layers and ctx_l attends over the earlier o's. m_l is the mixture component: one learned
vector, or (mixture on) the embedding of the CoT token the teacher read at t_l.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt import GPT, mlp, replace_at

MODES = ('train', 'argmax', 'soft')


class Emulator(nn.Module):

    def __init__(self, config, mixture_size=0, use_lstm=True):
        super().__init__()
        C, L = config.n_embd, config.n_layer
        self.gpt = GPT(config)
        self.mlps = nn.ModuleList(mlp(2 * C, C) for _ in range(L))
        if mixture_size:
            self.mixture = nn.Embedding(mixture_size, C)  # E: one row per token
        else:
            self.m = nn.Parameter(torch.randn(C) * 0.02)  # a single component
        self.use_lstm = use_lstm
        if use_lstm:
            self.lstm = nn.LSTMCell(C, C)
            self.key = nn.Linear(C, C, bias=False)
            self.out = nn.Linear(2 * C, C)

    def component(self, c, token, mode):
        """m_l (B, C) and the mixture's cross-entropy (0 when off). c (B, C), token (B,)."""
        if not hasattr(self, 'mixture'):
            return self.m.expand(c.size(0), -1), c.new_zeros(())
        E = self.mixture.weight                             # (V, C)
        logits = c.float() @ E.t()                          # (B, V): which reasoning path?
        if mode == 'train':  # teacher forcing: the token the teacher actually read
            return E[token], F.cross_entropy(logits, token)
        if mode == 'argmax':
            return E[logits.argmax(-1)], c.new_zeros(())
        return F.softmax(logits / 0.05, -1) @ E, c.new_zeros(())  # soft: gradients flow

    def forward(self, idx, sep1, z=None, tokens=None, mode='argmax'):
        """idx (B, T) any prefix holding ` {input} {eos}`; z (B, L, C) the targets and tokens
        (B, L) the CoT tokens at t_l, when training. Returns zh (B, L, C) and the loss."""
        assert mode in MODES, mode
        B, C = idx.size(0), self.gpt.config.n_embd
        rows = torch.arange(B, device=idx.device)
        zh, outs, aux = [], [], []
        ctx, state = idx.new_zeros(B, C, dtype=torch.float), None  # ctx_{-1} = 0

        def step(l, x):
            ### BEGIN SOLUTION emulator_step
            nonlocal ctx, state
            c = x[rows, sep1]                                            # (B, C) c_l
            m, ce = self.component(c, None if tokens is None else tokens[:, l], mode)
            pred = self.mlps[l](torch.cat([c, m.to(c.dtype)], -1))       # (B, C) zh_l
            zh.append(pred)
            aux.append(ce)
            if not self.use_lstm:
                return replace_at(x, sep1, pred)
            state = self.lstm((pred + ctx).float(), state)
            o = state[0]                                                 # (B, C) o_l
            if outs:  # attend over the earlier layers' outputs
                prev = torch.stack(outs, 1)                              # (B, l, C)
                w = F.softmax((self.key(prev) * o[:, None]).sum(-1), -1)  # (B, l)
                ctx = (w[..., None] * prev).sum(1)
            else:
                ctx = torch.zeros_like(o)
            outs.append(o)
            return replace_at(x, sep1, self.out(torch.cat([o, ctx], -1)))
            ### END SOLUTION

        self.gpt.body(idx, hook=step)
        zh = torch.stack(zh, 1).float()                                  # (B, L, C)
        loss = None
        if z is not None:
            loss = 0.5 * ((zh - z) ** 2).sum(-1).sum(-1).mean() + 0.01 * torch.stack(aux).sum()
        return zh, loss


def fvu(zh, z):
    """Per layer, the fraction of z's variance (over the batch) that zh leaves unexplained.
    zh, z (B, L, C). A layer whose z never varies (layer 0 at sep1 when inputs have one length)
    has nothing to explain: None rather than a meaningless ratio."""
    err = ((zh - z) ** 2).sum(-1).mean(0)                   # (L,)
    var = ((z - z.mean(0)) ** 2).sum(-1).mean(0)            # (L,)
    return [e / v if v > 1e-6 else None for e, v in zip(err.tolist(), var.tolist())]
