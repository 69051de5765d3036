"""`python train.py CONFIG --stage=ask --question="52 * 86"`: one question, answered by every
trained model of the folder (explicit CoT with its CoT, implicit CoT, no-CoT) beside the truth."""
import re
import sys

import torch

import data
from tools import evaluate


def ask(T, cfg, D):
    """One question answered every way: explicit CoT, implicit CoT, no-CoT, and the truth.
    For a generated task the question is `A * B` in plain digits, of the task's sizes.
    T: train.py's module (its checkpoints and task parsing)."""
    q = cfg.question.strip()
    if cfg.train_file:  # a file task (e.g. GSM8K): the question is the input as it stands
        ex, read = data.Example(q, '', ''), lambda s: s
    else:
        n, m = data.parse_task(cfg.task)
        operands = re.fullmatch(r'(\d+) *\* *(\d+)', q)
        a, b = operands.groups() if operands else ('', '')
        if not (a and b and len(a) == n and len(b) == m and '0' not in (a[0], b[0])):
            sys.exit(f'error: --question must be a {n}-digit number times a {m}-digit number for task '
                     f'{cfg.task}, e.g. --question="{"5" * n} * {"7" * m}", got {cfg.question!r}')
        ex, read = data.parse_line(data.multiplication_line(int(a), int(b))), lambda s: s.replace(' ', '')[::-1]
        q = f'{a} * {b}'
    try:
        prompt = torch.tensor([D.vocab.encode(data.layout_ids(ex, 'input'))], device=D.device)  # (1, P)
    except ValueError as e:
        sys.exit(f'error: --question={cfg.question!r}: {e}')
    sep1, eos, P = torch.tensor([prompt.size(1) - 1], device=D.device), D.vocab.eos, prompt.size(1)
    models = {**T.load(cfg, D, 'teacher')[0], **T.load(cfg, D, 'couple')[0], **T.load(cfg, D, 'nocot')[0]}
    with torch.no_grad():
        zh, _ = models['emulator'](prompt, sep1, mode='argmax')
        out = dict(explicit=models['teacher'].generate(prompt, D.T['cot'], stop_token=eos, stops=2),
                   implicit=models['student'].generate(prompt, sep1, zh, D.T['nocot'], eos),
                   nocot=models['nocot'].generate(prompt, D.T['nocot'], stop_token=eos))
    text = {k: evaluate.read_answer(D.vocab.decode(v[0, P:].tolist())) for k, v in out.items()}
    cot = D.vocab.decode(out['explicit'][0, P:].tolist()).split(data.EOS)[0].strip()
    say = lambda s: read(s) if s else '(no answer)'
    print(f'{q}   ({cfg.task}; the models write digits least significant first)')
    print(f'explicit CoT   {say(text["explicit"]):>12}   its CoT: {cot}')
    print(f'implicit CoT   {say(text["implicit"]):>12}')
    print(f'no-CoT         {say(text["nocot"]):>12}')
    if ex.answer:
        print(f'true answer    {read(ex.answer):>12}')
