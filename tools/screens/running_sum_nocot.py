"""A screen, not part of the method: does Bai et al.'s (2025) running-sum loss let a no-CoT GPT
learn multiplication here? Trains a no-CoT GPT on ` {input} {eos} #### {answer} {eos}` with, beside
the LM loss, `weight` x the squared error of one linear probe that reads the stream entering block
`layer` at the position predicting answer digit k and regresses the running sum
c_hat_k = sum_{i+j=k} a_i b_j + floor(c_hat_{k-1} / 10) (standardized per k). Prints, at every
eval, greedy exact match and per-digit accuracy on the test set, and the teacher-forced per-digit
accuracy; appends the last to docs/results.jsonl when --log=true.

    python tools/screens/running_sum_nocot.py --weight=1 --layer=6 [train.py flags, e.g.]
        --task=mult4x4 --train_size=200000 --n_layer=12 --test_file=../shared/data/mult4x4/test.txt
        --nocot_steps=4000 --learning_rate=1e-3 --eval_interval=1000 --seed=0
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import data  # noqa: E402
import train  # noqa: E402
from gpt import GPT, configure_optimizers  # noqa: E402
from tools.evaluate import accuracy  # noqa: E402


def operand_digits(task, D, tok):
    """(a (N, n), b (N, m)) digits, least significant first, read off the ` a * b` tokens of `tok`."""
    n, m = data.parse_task(task)
    lut = torch.full((len(D.vocab),), -1, dtype=torch.long)
    for d in range(10):
        lut[D.vocab.encode(data.encoding().encode(f' {d}'))[0]] = d
    return lut[tok.idx[:, :n]], lut[tok.idx[:, n + 1:n + 1 + m]]


def running_sums(a, b):
    """c_hat (N, n + m): c_hat_k = sum_{i+j=k} a_i b_j + floor(c_hat_{k-1} / 10); digit k of a*b is c_hat_k mod 10."""
    N, n, m = a.size(0), a.size(1), b.size(1)
    s = torch.zeros(N, n + m, dtype=torch.long)
    for i in range(n):
        s[:, i:i + m] += a[:, i:i + 1] * b                                  # a_i b_j lands on k = i + j
    c, carry = torch.empty_like(s), torch.zeros(N, dtype=torch.long)
    for k in range(n + m):
        c[:, k] = s[:, k] + carry
        carry = c[:, k] // 10
    return c


def main(argv):
    opts = dict(weight=1.0, layer=6, log=False)
    rest = []
    for a in argv:
        key = a.removeprefix('--').split('=')[0]
        if key in opts:
            v = a.split('=', 1)[1]
            opts[key] = v.lower() == 'true' if key == 'log' else type(opts[key])(v)
        else:
            rest.append(a)
    cfg = train.parse_config(rest)
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    D = data.Data(cfg, torch.device('cpu'))
    tr, te = D.train['nocot'], D.test['nocot']
    K = sum(data.parse_task(cfg.task))
    c_hat = running_sums(*operand_digits(cfg.task, D, tr))                   # (N, K)
    digits = tr.idx.gather(1, tr.sep1[:, None] + 3 + torch.arange(K))       # the answer's tokens
    assert all(len(set(digits[c_hat % 10 == d].tolist())) == 1 for d in range(10)), 'c_hat mod 10 is not the answer'
    c_hat = c_hat.float()
    mean, std = c_hat.mean(0), c_hat.std(0).clamp_min(1.0)
    target = (c_hat - mean) / std
    # answer digit k is token sep1 + 3 + k (after ' #' '###'), predicted at sep1 + 2 + k
    at = tr.sep1[:, None] + 2 + torch.arange(K)                              # (N, K)
    torch.manual_seed(cfg.seed)
    model = GPT(train.make(cfg, D, 'nocot').config)
    probe = nn.Linear(cfg.n_embd, 1)
    opt = configure_optimizers([model, probe], cfg.weight_decay, cfg.learning_rate)
    params = [p for g in opt.param_groups for p in g['params']]
    gen = torch.Generator().manual_seed(cfg.seed)
    steps, t0 = cfg.nocot_steps, time.time()
    n_new = D.T['nocot'] - D.T['input'] + 1

    def evaluate():
        model.eval()
        with torch.no_grad():
            res = accuracy(cfg, D, 'nocot', lambda P, r: model.generate(P, n_new, stop_token=D.vocab.eos))
            te_at = te.sep1[:, None] + 2 + torch.arange(K)
            logits, _, _ = model(te.idx)
            pred = logits.argmax(-1).gather(1, te_at)                          # (N, K)
            truth = te.idx.gather(1, te_at + 1)
            forced = (pred == truth).float().mean(0).tolist()
        print(f'         teacher-forced per digit: {" ".join(f"{d:.2f}" for d in forced)}', flush=True)
        model.train()
        return dict(res, forced_digits=forced)

    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g['lr'] = train.lr_at(cfg, step, steps)
        r = torch.randint(len(tr), (cfg.batch_size,), generator=gen)
        _, lm, hiddens = model(tr.idx[r], tr.labels[r])
        h = hiddens[opts['layer']].gather(1, at[r, :, None].expand(-1, -1, cfg.n_embd))  # (B, K, C)
        rs = F.mse_loss(probe(h).squeeze(-1), target[r])
        loss = lm + opts['weight'] * rs
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if step % cfg.log_interval == 0:
            print(f'step {step:6d}/{steps} lm {lm.item():.4f} running-sum {rs.item():.4f} '
                  f'{(time.time() - t0) / step * 1000:.0f} ms/step', flush=True)
        if cfg.eval_interval and step % cfg.eval_interval == 0 and step < steps:
            evaluate()
    res = evaluate()
    if opts['log']:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
        line = dict(date=time.strftime('%Y-%m-%d'), commit=commit, stage="nocot (screen)", shape=[cfg.n_layer, cfg.n_embd],
                    command='python tools/screens/running_sum_nocot.py ' + ' '.join(argv), seed=cfg.seed,
                    task=cfg.task, accuracy=res['accuracy'], digits=res['digits'],
                    forced_digits=res['forced_digits'], final_lm_loss=lm.item(), final_rs_loss=rs.item(),
                    train_seconds=round(time.time() - t0), steps=steps, weight=opts['weight'], layer=opts['layer'])
        with open(os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'results.jsonl'), 'a') as f:
            f.write(json.dumps(line) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
