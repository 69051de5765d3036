"""What does each cell the student reads carry? For every layer l, a linear probe from z_l (the
teacher's state at its cell t_l) to the CoT token at t_l + d, for d = -2..2, fitted on training
problems and scored on the test set, beside always guessing the commonest token. Then, for each
CoT position, a probe from all of z at once: which tokens the student can read at all.

    python tools/probe_cells.py config/cpu_full.py --task=mult3x3 --train_size=200000 --out_dir=DIR

Reads DIR/teacher.pt and the cells the config reads (--subset, --stride). A token no cell carries
is one the student cannot read and has to work out for itself (docs/student.md: on 3x3 our teachers' cells
carry their own token and the next, seldom the one before). About 3 minutes on this project's
2-core CPU (3x3, 8 layers), so it can run right after the teacher, before the other stages.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402
from tools import config  # noqa: E402
import data  # noqa: E402
from teacher import extract_states  # noqa: E402

OFFSETS = (-2, -1, 0, 1, 2)


def fit(x, y, n_classes, steps=300):
    """A linear classifier from x (N, C) to y (N,), fitted by full-batch Adam."""
    torch.manual_seed(0)
    probe = nn.Linear(x.size(1), n_classes).to(x.device)
    opt = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = F.cross_entropy(probe(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return probe


@torch.no_grad()
def score(probe, xt, yt):
    return (probe(xt).argmax(-1) == yt).float().mean().item()


def linear_probe(x, y, xt, yt, n_classes, steps=300):
    """Test accuracy of a linear classifier from x (N, C) to y (N,), and that of always guessing
    y's commonest value."""
    return score(fit(x, y, n_classes, steps), xt, yt), (yt == y.mode().values).float().mean().item()


@torch.no_grad()
def cells(cfg, D, teacher, cot, n):
    """(z (n, L, C), the tokens at t + d (n, L, len(OFFSETS)), -1 outside sep1..sep2) of the
    first n rows of a cot set."""
    zs, toks = [], []
    for r in torch.arange(n, device=D.device).split(cfg.eval_batch_size):
        z, t = extract_states(teacher, cot.idx[r], cot.sep1[r], cot.sep2[r], cfg.subset, cfg.stride)
        p = t[..., None] + torch.tensor(OFFSETS, device=D.device)                    # (B, L, K)
        inside = (p >= cot.sep1[r, None, None]) & (p <= cot.sep2[r, None, None])
        tok = cot.idx[r].gather(1, p.clamp(0, cot.idx.size(1) - 1).flatten(1)).view(p.shape)
        zs.append(z)
        toks.append(torch.where(inside, tok, -1))
    return torch.cat(zs), torch.cat(toks)


def main(argv):
    cfg = train.parse_config(argv)
    device = config.pick_device(cfg)
    D = data.Data(cfg, device)
    teacher = train.load(cfg, D, 'teacher')[0]['teacher']
    z, y = cells(cfg, D, teacher, D.train['cot'], min(10000, len(D.train['cot'])))
    zt, yt = cells(cfg, D, teacher, D.test['cot'], len(D.test['cot']))
    print(f'linear probe from z_l to the CoT token at t_l + d, accuracy on {len(zt)} test problems '
          '(always guessing the commonest token in brackets; "-": outside the CoT)')
    print('layer  ' + ''.join(f'{f"d = {d:+d}":>14s}' for d in OFFSETS))
    for l in range(z.size(1)):
        row = []
        for k in range(len(OFFSETS)):
            score = masked_probe(z[:, l], y[:, l, k], zt[:, l], yt[:, l, k], len(D.vocab))
            row.append(f'{"-":>14s}' if score is None else f'{score[0]:8.2f} ({score[1]:.2f})')
        print(f'{l:5d}  ' + ''.join(row), flush=True)
    print('linear probe from all of z to the CoT token k places after sep1 (same test problems; last: that '
          'token in the first of them)')
    for k in range(1, int(D.train['cot'].sep2.max() - D.train['cot'].sep1.min())):
        tok, tok_t = token_after_sep1(D.train['cot'], len(z), k), token_after_sep1(D.test['cot'], len(zt), k)
        score = masked_probe(z.flatten(1), tok, zt.flatten(1), tok_t, len(D.vocab))
        if score is not None:
            shown = D.vocab.decode([int(tok_t[tok_t >= 0][0])]).strip() or '_'
            print(f'k = {k:3d} {score[0]:8.2f} ({score[1]:.2f})  {shown}', flush=True)


def masked_probe(x, y, xt, yt, n_classes):
    """linear_probe on the rows whose token is not -1; None where a set has none."""
    ok, okt = y >= 0, yt >= 0
    if ok.sum() == 0 or okt.sum() == 0:
        return None
    return linear_probe(x[ok], y[ok], xt[okt], yt[okt], n_classes)


def token_after_sep1(cot, n, k):
    """(n,) the token k places after sep1 in the first n rows of a cot set; -1 where that is
    sep2 or beyond (the CoT is shorter)."""
    p = cot.sep1[:n] + k
    tok = cot.idx[:n].gather(1, p.clamp(max=cot.idx.size(1) - 1)[:, None])[:, 0]
    return torch.where(p < cot.sep2[:n], tok, -1)


if __name__ == '__main__':
    main(sys.argv[1:])
