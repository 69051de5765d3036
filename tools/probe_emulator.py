"""What do the emulator's predictions zh carry of what the student reads? Per layer l, beside the
FVU: linear probes to the CoT tokens around the cell t_l (d = -2 .. +2: with recall, z holds
those before it too), fitted on the teacher's z_l of training problems and scored on the test set
from z_l (the teacher) and from zh_l (the emulator, read as the student trained on z reads it),
and a probe fitted on zh_l itself (the token in any encoding). Then the same three from all
layers at once to each answer digit, digit k of the last running sum c_hat, and a linear
regression from all layers to c_hat_k itself (Bai et al. 2025: digit k and its carry). FVU
weighs every direction of z alike; these weigh only what the answer is made of (issue: the
emulator with FVU <= 0.095 still broke a digit).

    python tools/probe_emulator.py CONFIG [--key=value ...]           (FROM=couple: coupling's emulator)

Reads out_dir/teacher.pt and out_dir/emulator.pt (or couple.pt), and with out_dir/student.pt also
scores emulator + that student (so an emulator copied beside another student is judged with it);
writes out_dir/probe_emulator.json.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import data  # noqa: E402
import train  # noqa: E402
from emulator import fvu  # noqa: E402
from tools import config, evaluate  # noqa: E402
from probe_cells import OFFSETS, cells, fit, score  # noqa: E402


@torch.no_grad()
def states(cfg, D, teacher, emulator, split, n):
    """(z, zh (n, L, C), the CoT tokens around each cell (n, L, len(OFFSETS)), the answer digits
    (n, K)) of the first n problems of a split."""
    sets = D.train if split == 'train' else D.test
    z, tok = cells(cfg, D, teacher, sets['cot'], n)
    nocot, P = sets['nocot'], D.T['input']
    zh = torch.cat([emulator(nocot.idx[r, :P], nocot.sep1[r], mode='argmax')[0]
                    for r in torch.arange(n, device=D.device).split(cfg.eval_batch_size)])
    digits = torch.tensor([[int(d) for d in a.split()] for a in nocot.answers[:n]], device=D.device)
    return z, zh, tok, digits


def three(x, y, xh, xt, yt, xht, n_classes):
    """[teacher probe on z, the same probe on zh, a probe fitted on zh], on the test rows;
    None where no row has a target."""
    ok, okt = y >= 0, yt >= 0
    if ok.sum() == 0 or okt.sum() == 0:
        return None
    on_z = fit(x[ok], y[ok], n_classes)
    return [score(on_z, xt[okt], yt[okt]), score(on_z, xht[okt], yt[okt]),
            score(fit(xh[ok], y[ok], n_classes), xht[okt], yt[okt])]


def running_sums(tok, vocab, n, m):
    """Bai et al.'s (2025) running sums of each row's n x m product, read off its ` a * b` tokens:
    c_hat (N, n + m), c_hat_k = sum_{i+j=k} a_i b_j + floor(c_hat_{k-1} / 10), so answer digit k
    is c_hat_k mod 10 (checked against the row's answer tokens). tok: a Tokenized set."""
    lut = torch.full((len(vocab),), -1, dtype=torch.long, device=tok.idx.device)  # model id -> digit
    for d in range(10):
        lut[vocab.encode(data.encoding().encode(f' {d}'))[0]] = d
    a, b = lut[tok.idx[:, :n]], lut[tok.idx[:, n + 1:n + 1 + m]]          # (N, n), (N, m) least significant first
    s = torch.zeros(a.size(0), n + m, dtype=torch.long, device=a.device)
    for i in range(n):
        s[:, i:i + m] += a[:, i:i + 1] * b                                  # a_i b_j adds to s_{i+j}
    c, carry = torch.empty_like(s), torch.zeros_like(s[:, 0])
    for k in range(n + m):
        c[:, k], carry = s[:, k] + carry, (s[:, k] + carry) // 10
    answer = lut[tok.idx.gather(1, tok.sep1[:, None] + 3 + torch.arange(n + m, device=a.device))]  # after ' #' '###'
    if (a < 0).any() or (b < 0).any() or not torch.equal(c % 10, answer):
        raise ValueError(f'running sums need mult{n}x{m} rows in the official format (task {n}x{m})')
    return c


def regression(x, y):
    """Least-squares weights (ridge 1e-3) of a linear map with bias from x (N, D) to y (N,)."""
    X = torch.cat([x, torch.ones_like(x[:, :1])], 1).double()
    return torch.linalg.solve(X.T @ X + 1e-3 * torch.eye(X.size(1), dtype=X.dtype, device=x.device), X.T @ y.double())


def r2(w, xt, yt):
    """Fraction of yt's variance that the regression w explains on xt (1 - FVU)."""
    pred = torch.cat([xt, torch.ones_like(xt[:, :1])], 1).double() @ w
    return 1 - ((pred - yt) ** 2).mean().item() / yt.double().var().item()


def main(argv):
    cfg = train.parse_config(argv)
    D = data.Data(cfg, config.pick_device(cfg))
    teacher = train.load(cfg, D, 'teacher')[0]['teacher']
    emulator = train.load(cfg, D, os.environ.get('FROM', 'emulator'))[0]['emulator']
    z, zh, tok, dig = states(cfg, D, teacher, emulator, 'train', min(10000, len(D.train['cot'])))
    zt, zht, tokt, digt = states(cfg, D, teacher, emulator, 'test', len(D.test['cot']))
    V, show = len(D.vocab), lambda s: '    -    ' if s is None else ' '.join(f'{v:.2f}' for v in s)
    out = dict(fvu=fvu(zht, zt), cells={}, digits=[])
    print(f'probes on {len(zt)} test problems; each triple: the teacher\'s probe on z, the same probe on zh, '
          'a probe fitted on zh')
    print('layer   FVU   ' + '  '.join(f'token at t_l{d:+d}'.ljust(14) for d in OFFSETS))
    for l in range(z.size(1)):
        row = {d: three(z[:, l], tok[:, l, k], zh[:, l], zt[:, l], tokt[:, l, k], zht[:, l], V)
               for k, d in enumerate(OFFSETS)}
        out['cells'][l] = row
        f = out['fvu'][l]
        print(f'{l:5d}  {"  -  " if f is None else f"{f:.3f}"}  ' + '  '.join(show(s) for s in row.values()), flush=True)
    print('answer digit (least significant first), from all layers')
    for k in range(dig.size(1)):
        s = three(z.flatten(1), dig[:, k], zh.flatten(1), zt.flatten(1), digt[:, k], zht.flatten(1), 10)
        out['digits'].append(s)
        print(f'{k:5d}          {show(s)}', flush=True)
    try:  # Bai et al.'s running sums c_hat_k (multiplication only): what digit k and its carry are made of
        n, m = data.parse_task(cfg.task)
        c, ct = (running_sums(s['nocot'], D.vocab, n, m)[:len(x)].float() for s, x in ((D.train, z), (D.test, zt)))
    except ValueError:
        pass
    else:
        print('running sum c_hat_k (least significant first), R^2 from all layers: the teacher\'s regression '
              'on z, the same on zh, one fitted on zh')
        x, xh, xt, xht = z.flatten(1), zh.flatten(1), zt.flatten(1), zht.flatten(1)
        out['running_sums'] = []
        for k in range(c.size(1)):
            on_z = regression(x, c[:, k])
            s = [r2(on_z, xt, ct[:, k]), r2(on_z, xht, ct[:, k]), r2(regression(xh, c[:, k]), xht, ct[:, k])]
            out['running_sums'].append(s)
            print(f'{k:5d}          {show(s)}', flush=True)
    if os.path.isfile(os.path.join(cfg.out_dir, 'student.pt')):  # what the answer gets of it, with this student
        models = {'emulator': emulator, **train.load(cfg, D, 'student')[0]}
        out['with_student'] = evaluate.accuracy(cfg, D, 'implicit', train.generators(cfg, D, models)['implicit'])
    with open(os.path.join(cfg.out_dir, 'probe_emulator.json'), 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1:])
