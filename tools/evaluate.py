"""Reading and scoring answers: greedy decoding of the test set in equal-length batches, exact
match, the per-digit accuracy, and a mistake as a person reads it."""
import time

import torch

from data import EOS, operands
from gpt import autocast


def answers(cfg, D, generate, rows=None, batch_size=None):
    """Greedy answers to the test examples `rows` (default: all): (predicted answers, seconds).
    generate(prompt, rows) -> tokens; prompts are ` {input} {eos}`, batched by equal length so
    nothing is padded."""
    test, device = D.test['nocot'], D.device
    rows = list(range(len(test.sep1))) if rows is None else list(rows)
    sep1 = test.sep1[rows].tolist()
    preds = [None] * len(rows)
    sync(device)
    t0 = time.time()
    for chunk in equal_length_groups(sep1, batch_size or cfg.eval_batch_size):
        r = torch.tensor([rows[j] for j in chunk], device=device)
        P = sep1[chunk[0]] + 1
        with torch.no_grad(), autocast(device):
            out = generate(test.idx[r, :P], r)[:, P:].tolist()
        for j, toks in zip(chunk, out):
            preds[j] = read_answer(D.vocab.decode(toks))
    sync(device)
    return preds, time.time() - t0


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def accuracy(cfg, D, name, generate, mistakes=3):
    """dict(accuracy=exact match on the test set, digits=per answer digit or None), printed with
    a few mistakes."""
    preds, seconds = answers(cfg, D, generate)
    truth = D.test['nocot'].answers
    right = [normalize_answer(p) == normalize_answer(t) for p, t in zip(preds, truth)]
    acc = sum(right) / len(right)
    print(f'{name:8s} accuracy {acc:.4f} on {len(right)} {D.split} examples ({len(right) / seconds:.0f} ex/s)')
    digits = digit_accuracy(preds, truth)
    if digits and len(digits) > 1:  # multiplication; a one-token answer would repeat the accuracy
        print(f'         per answer digit, least significant first: {" ".join(f"{d:.2f}" for d in digits)}')
    wrong = [i for i, r in enumerate(right) if not r][:mistakes]
    for i in wrong:
        print(f'         mistake: {show(D.test_examples[i], preds[i])}')
    return dict(accuracy=acc, digits=digits)


def equal_length_groups(lengths, batch_size):
    """Row indices grouped so each group shares one length and holds at most batch_size rows:
    prompts batched this way need no padding and no attention mask."""
    groups = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if not groups or lengths[groups[-1][0]] != lengths[i] or len(groups[-1]) == batch_size:
            groups.append([])
        groups[-1].append(i)
    return groups


def read_answer(text):
    """The answer in generated text: what follows '####', up to the next eos."""
    return text.split('####', 1)[1].split(EOS)[0].strip() if '####' in text else ''


def show(ex, predicted):
    """One answer as a person reads it: '12 * 34 = 408, model said 418'."""
    if ' * ' in ex.input and ex.input.replace(' ', '').replace('*', '').isdigit():
        a, b = operands(ex.input + '||')
        read = lambda s: s.replace(' ', '')[::-1] or '(nothing)'
        return f'{a} * {b} = {read(ex.answer)}, model said {read(predicted)}'
    return f'{ex.input[:70]}... = {ex.answer}, model said {predicted or "(nothing)"}'


def digit_accuracy(preds, truth):
    """Per answer token as written (for multiplication: each digit, least significant first), the
    fraction of predictions that have it right; None unless every true answer has the same number
    of tokens. Shows which digits a model has not learned, where exact match shows only that."""
    truth = [t.split() for t in truth]
    K = len(truth[0])
    if any(len(t) != K for t in truth):
        return None
    preds = [p.split() for p in preds]
    return [sum(len(p) > k and p[k] == t[k] for p, t in zip(preds, truth)) / len(truth) for k in range(K)]


def normalize_answer(s):
    """Exact match compares answers with commas removed (GSM8K's '1,000' == '1000')."""
    return s.strip().replace(',', '')
