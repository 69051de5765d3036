"""What does a trained mind-reading student work out, and where? For each answer digit k of a
multiplication a * b (least significant first), linear probes from the student's stream at the
position that predicts digit k, entering each layer (last row: after the last block), to the
numbers that digit is made of: s_k and p_k, digit k of the last running sum s = a * (b mod
10^(m-1)) and of the last partial product p = a * b_(m-1) * 10^(m-1); the carry into digit k of
s + p; (s_k + p_k) mod 10; and digit k itself. A value that no layer holds is one the student
neither read from z nor computed (docs/student.md: on 4x4 digit 4 needs the cells' own tokens).

    DIGITS=3,4 python tools/probe_student.py config/cpu_full.py --task=mult4x4 --n_layer=12 ... --out_dir=DIR

Reads DIR/teacher.pt and DIR/student.pt. About 8 minutes for three digits on this project's
2-core CPU (4x4, 12 x 64, 6,000 training problems for the probes).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import data  # noqa: E402
import train  # noqa: E402
from tools import config  # noqa: E402
from probe_cells import linear_probe  # noqa: E402
from teacher import extract_states  # noqa: E402


@torch.no_grad()
def streams(cfg, D, teacher, student, cot, nocot, n):
    """(the student's stream entering each block and after the last, (n, L + 1, T, C); the
    operands (n, 2)) for the first n rows of a set."""
    H, ops = [], []
    for r in torch.arange(n, device=D.device).split(cfg.eval_batch_size):
        z, _ = extract_states(teacher, cot.idx[r], cot.sep1[r], cot.sep2[r], cfg.subset, cfg.stride)
        x, hiddens = student.gpt.body(nocot.idx[r], student.hook(nocot.sep1[r], z))
        H.append(torch.stack(hiddens + [x], 1))
        ops += [data.operands(D.vocab.decode(row[:s].tolist()) + '||') for row, s in zip(nocot.idx[r], nocot.sep1[r])]
    return torch.cat(H), torch.tensor(ops, device=D.device)


def targets(ops, k, m):
    """name -> (n,) the values digit k is made of (module docstring)."""
    a, b, top = ops[:, 0], ops[:, 1], 10 ** (m - 1)
    s, p = a * (b % top), a * (b // top) * top
    digit = lambda x: (x // 10 ** k) % 10
    return {'s_k': digit(s), 'p_k': digit(p), 'carry in': ((s % 10 ** k + p % 10 ** k) >= 10 ** k).long(),
            '(s_k + p_k) % 10': (digit(s) + digit(p)) % 10, 'digit k': digit(a * b)}


def main(argv):
    cfg = train.parse_config(argv)
    D = data.Data(cfg, config.pick_device(cfg))
    models = {**train.load(cfg, D, 'teacher')[0], **train.load(cfg, D, 'student')[0]}
    _, m = data.parse_task(cfg.task)
    H, ops = streams(cfg, D, models['teacher'], models['student'], D.train['cot'], D.train['nocot'],
                     min(6000, len(D.train['nocot'])))
    Ht, ops_t = streams(cfg, D, models['teacher'], models['student'], D.test['cot'], D.test['nocot'],
                        len(D.test['nocot']))
    # the nocot layout is `input eos #### answer eos`: sep1 predicts ####'s first token, so digit k
    # is predicted len(####'s tokens) + k after sep1
    te = D.test['nocot']
    lead = len(D.vocab.encode(data.encoding().encode(' ####')))
    first = D.vocab.decode([int(te.labels[0, int(te.sep1[0]) + lead])]).strip()
    assert first == str(int(ops_t[0, 0] * ops_t[0, 1]) % 10), f'answer digit 0 is not where expected ({first!r})'
    rows, rows_t = torch.arange(len(H), device=D.device), torch.arange(len(Ht), device=D.device)
    sep1, sep1_t = D.train['nocot'].sep1[:len(H)], te.sep1
    for k in map(int, os.environ.get('DIGITS', '3,4').split(',')):
        y, yt = targets(ops, k, m), targets(ops_t, k, m)
        print(f'answer digit {k}: linear probes from the student\'s stream where it is predicted, accuracy on '
              f'{len(Ht)} test problems (always guessing the commonest value in brackets)')
        print('layer' + ''.join(f'{name:>20s}' for name in y))
        for l in range(H.size(1)):
            x = F.layer_norm(H[rows, l, sep1 + lead + k].float(), H.shape[-1:])
            xt = F.layer_norm(Ht[rows_t, l, sep1_t + lead + k].float(), H.shape[-1:])
            scores = [linear_probe(x, y[name], xt, yt[name], 10) for name in y]
            print(f'{l:5d}' + ''.join(f'{a:13.2f} ({c:.2f})' for a, c in scores), flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
