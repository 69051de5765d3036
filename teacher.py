"""The teacher's side: which cells of its (position x layer) grid are read, and reading them.

The teacher itself is a plain GPT trained on the `cot` layout (train.py, stage `teacher`).
`extract_states` turns one frozen teacher forward into z (B, L, C), one vector per layer;
`recall_loss` is an option for training the teacher so that its cells hold more of the CoT.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

SUBSETS = ('diagonal', 'first_column', 'last_column', 'top_row', 'bottom_row')


def diagonal_positions(sep1, sep2, n_layer):
    """t (B, L): layer 0 at sep1, layer L-1 at sep2, evenly spaced per example in between."""
    l = torch.arange(n_layer, device=sep1.device)
    ### BEGIN SOLUTION diagonal
    delta = (sep2 - sep1).float() / max(n_layer - 1, 1)  # (B,) each example its own spacing
    t = torch.round(sep1[:, None] + l[None, :] * delta[:, None]).long()  # (B, L)
    return torch.minimum(t, sep2[:, None])
    ### END SOLUTION


def grid_cells(sep1, sep2, n_layer, subset='diagonal', stride=0):
    """The cells read: positions t (B, L) and, for each l, the layer whose stream is read.
    `stride` > 0 replaces the diagonal by a fixed step of `stride` tokens from sep1."""
    assert subset in SUBSETS, f'subset must be one of {SUBSETS}, got {subset!r}'
    L = n_layer
    if stride > 0:
        l = torch.arange(L, device=sep1.device)
        t = torch.minimum(sep1[:, None] + stride * l[None, :], sep2[:, None])
    else:
        t = diagonal_positions(sep1, sep2, L)
    layers = list(range(L))
    if subset == 'first_column':
        t = sep1[:, None].expand(-1, L)      # every layer at the end of the input
    elif subset == 'last_column':
        t = sep2[:, None].expand(-1, L)      # every layer at the end of the CoT
    elif subset == 'top_row':
        layers = [L - 1] * L                 # diagonal positions, all read from the top layer
    elif subset == 'bottom_row':
        layers = [0] * L                     # diagonal positions, all read from the embeddings
    return t, layers


def read_cells(hiddens, t, layers):
    """z (B, L, C): the stream entering block layers[l] at t_l, layer-normed without learned
    scale or bias (so every layer's target has the same size)."""
    rows = torch.arange(t.size(0), device=t.device)
    z = torch.stack([hiddens[layers[l]][rows, t[:, l]] for l in range(len(layers))], 1)
    return F.layer_norm(z.float(), z.shape[-1:])


@torch.no_grad()
def extract_states(teacher, idx, sep1, sep2, subset='diagonal', stride=0):
    """z (B, L, C), read from one frozen teacher forward, and the positions read, t (B, L)."""
    t, layers = grid_cells(sep1, sep2, teacher.config.n_layer, subset, stride)
    _, hiddens = teacher.body(idx)  # the answer tokens after sep2 cost a little and change nothing
    return read_cells(hiddens, t, layers), t


def free_memory(device):
    """Bytes free on the device (inf where the OS does not say, as on macOS)."""
    if device.type == 'cuda':
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_AVPHYS_PAGES')
    except (ValueError, OSError):
        return math.inf


def cached_states(teacher, cot, subset='diagonal', stride=0, batch_size=500):
    """rows -> (z, t) of the data set `cot` (the cot layout), z for all of it computed once and
    kept on its device (N x L x C floats): the teacher is frozen, and rerunning it on every batch
    cost a third of a student step on the CPU. MemoryError where that needs over half what is free."""
    N, L, C = len(cot), teacher.config.n_layer, teacher.config.n_embd
    need, free = N * L * C * 4, free_memory(cot.idx.device)
    if need > free / 2:
        raise MemoryError(f"caching the teacher's states of {N} training examples needs {need / 1e9:.1f} GB, "
                          f"more than half of the {free / 1e9:.1f} GB free")
    parts = [extract_states(teacher, cot.idx[r], cot.sep1[r], cot.sep2[r], subset, stride)
             for r in torch.arange(N, device=cot.idx.device).split(batch_size)]
    z, t = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])  # (N, L, C), (N, L)
    return lambda r: (z[r], t[r])


def recall_heads(C, V, recall, own=False, ahead=False):
    """The linear heads of recall_loss: one per token before a cell, its own, the one after."""
    return nn.ModuleList(nn.Linear(C, V) for _ in range(recall + own + ahead))


def recall_targets(idx, sep1, t, J, ahead=False, own=False):
    """(B, L, J + own + ahead) the token j + 1 places before each cell t_l, for each one strictly
    between the previous cell (sep1 before layer 0's) and t_l; -1 (no loss) elsewhere. With `own`,
    one more column holds t_l's own token, and with `ahead` one more (last) the token after t_l."""
    prev = torch.cat([sep1[:, None], t[:, :-1]], 1)                          # (B, L)
    p = t[..., None] - torch.arange(1, J + 1, device=t.device)               # (B, L, J)
    p = torch.cat([p] + [t[..., None]] * own + [t[..., None] + 1] * ahead, 2)  # (B, L, J + own + ahead)
    keep = torch.cat([p[..., :J] > prev[..., None], p[..., J:] < idx.size(1)], 2)
    tokens = idx.gather(1, p.clamp(0, idx.size(1) - 1).flatten(1)).view(p.shape)
    return torch.where(keep, tokens, -1)


def recall_loss(heads, hiddens, idx, sep1, sep2, subset='diagonal', stride=0, ahead=False, own=False):
    """An option for training the teacher (not in the paper): each cell's z also predicts, with
    heads[j] (Linear(C, V)), the token j + 1 places before it, back to the previous cell, with
    `own` (the next head) its own token and with `ahead` (the last head) the token after it.
    Trained on next tokens alone, a cell keeps its own token and the next and loses the ones
    before, so a sparse diagonal misses what lies between its cells; recalling them costs some of
    the next token, which `ahead` asks for, and at width 64 some of its own, which `own` asks for
    (docs/student.md). Mean cross-entropy."""
    t, layers = grid_cells(sep1, sep2, len(hiddens), subset, stride)
    z = read_cells(hiddens, t, layers)                                       # (B, L, C)
    logits = torch.stack([head(z) for head in heads], 2)                     # (B, L, J, V)
    target = recall_targets(idx, sep1, t, len(heads) - ahead - own, ahead, own)
    total = F.cross_entropy(logits.flatten(0, 2).float(), target.flatten(), ignore_index=-1, reduction='sum')
    return total / (target >= 0).sum().clamp(min=1)  # no NaN where nothing lies between cells


# ----------------------------------------------------------------------------- stepwise internalization

def removal_smoothing(lam, truncate=100):
    """P(o), o = 0 .. truncate-1: the extra CoT tokens a row loses beyond the schedule's k
    (Deng et al. 2024), proportional to exp(-lam * o), the tail's mass on the last; lam = inf: 0."""
    if math.isinf(lam):
        return torch.eye(truncate)[0]
    p = (1 - math.exp(-lam)) * torch.exp(-lam * torch.arange(truncate, dtype=torch.float64))
    p[-1] += 1 - p.sum()
    return p.float()


def removed_at(step, steps_per_token):
    """k, the CoT tokens the schedule removes at step (1-based): one more every steps_per_token."""
    return (step - 1) // steps_per_token


def resets_at(step, steps_per_token, longest):
    """Whether the optimizer starts afresh at step: k grows there, and some CoT was left before."""
    return removed_at(step, steps_per_token) > removed_at(step - 1, steps_per_token) and \
        removed_at(step - 1, steps_per_token) < longest


def remove_cot(idx, lengths, sep1, sep2, r, eos):
    """(idx, labels): rows of the cot layout without their first r[b] CoT tokens (sep2 always
    stays), shifted left, padded with eos to the longest row left; labels on every token after
    sep1, as before.
    idx (B, T); lengths, sep1, sep2, r (B,)."""
    r = torch.minimum(r, sep2 - sep1 - 1)                        # the CoT is sep1+1 .. sep2-1
    pos = torch.arange(idx.size(1), device=idx.device)
    src = (pos + r[:, None] * (pos > sep1[:, None])).clamp(max=idx.size(1) - 1)  # (B, T)
    n = (lengths - r)[:, None]                                   # tokens left in each row
    out = torch.where(pos < n, idx.gather(1, src), eos)
    labels = torch.where((pos >= sep1[:, None]) & (pos < n - 1), out.roll(-1, 1), -1)
    w = int(n.max())  # columns past every row's end are padding: cut, so steps get cheaper as CoT goes
    return out[:, :w].contiguous(), labels[:, :w].contiguous()  # contiguous: the loss views them flat
