"""Compute accounting: the FLOPs of each stage (for the no-CoT baseline on the whole pipeline's
compute, and MFU), and the time the command has left, printed on every progress line."""
import math

import torch


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def flops(trained, frozen=()):
    """Approximate training FLOPs per example: 6 x params x tokens for what trains, 2 x for
    the forward-only (frozen) models. trained/frozen: [(module, tokens), ...]."""
    return sum(6 * n_params(m) * T for m, T in trained) + sum(2 * n_params(m) * T for m, T in frozen)


PIPELINE = ('teacher', 'student', 'emulator', 'couple')  # the stages implicit CoT needs


def pipeline_flops(cfg, D, cost, examples):
    """The pipeline's training FLOPs: each stage's cost per example x the examples it trained on
    (`examples`: stage -> steps x batch size), and the teacher-state caches of the student and the
    emulator (one forward over the training set each, with cache_states)."""
    return sum(cost[s][1] * examples[s] for s in PIPELINE) + \
        2 * cfg.cache_states * cost['cache'][1] * len(D.train['cot'])


def nocot_runs(cfg, D, make):
    """[(name, steps)] of the no-CoT models: the per-stage budget and, with nocot_full, the
    training FLOPs of teacher + student + emulator + coupling."""
    runs = [('nocot', cfg.nocot_steps)]
    if cfg.nocot_full:
        cost = costs(cfg, D, make)
        pipeline = pipeline_flops(cfg, D, cost, {s: getattr(cfg, f'{s}_steps') * cfg.batch_size for s in PIPELINE})
        runs.append(('nocot_full', math.ceil(pipeline / cost['nocot'][1] / cfg.batch_size)))
    return runs


def costs(cfg, D, make):
    """Per training example of each stage: (tokens processed, approximate training FLOPs).
    make(cfg, D, kind): a model of the stage (train.make), built here on the meta device."""
    with torch.device('meta'):  # shapes only, no memory
        gpt, student, emulator = make(cfg, D, 'teacher'), make(cfg, D, 'student'), make(cfg, D, 'emulator')
    T = D.T
    emu = [(emulator, T['input'])]
    read = [] if cfg.cache_states else [(gpt, T['cot'])]  # the frozen teacher's forward, every step
    match = [(gpt, T['cot'])] if cfg.answer_match else []  # the student's answer_match: another teacher forward
    return dict(nocot=(T['nocot'], flops([(gpt, T['nocot'])])),
                teacher=(T['cot'], flops([(gpt, T['cot'])])),
                internalize=(T['cot'], flops([(gpt, T['cot'])])),  # at most: rows shrink as k grows
                student=(T['nocot'], flops([(student, T['nocot'])], read + match)),
                emulator=(T['input'], flops(emu, read)),
                cache=(T['cot'], flops([], [(gpt, T['cot'])])),  # per training example, once a stage
                couple=(T['nocot'] + T['input'], flops([(student, T['nocot'])] + ([] if cfg.freeze_emulator else emu),
                                                       emu if cfg.freeze_emulator else [])))


def method_flops(cfg, D, make, stages):
    """Approximate training FLOPs behind each way of answering: each stage's steps x its batch x
    its cost per example, the teacher included wherever it is needed, and the teacher-state caches
    for implicit CoT. stages: name -> the finished stage's result (with the batch size it trained
    at: internalization may run at another than its teacher's). Internalization's is an upper bound."""
    cost = costs(cfg, D, make)
    examples = {s: r['steps'] * r['batch_size'] for s, r in stages.items()}
    fl = lambda s: cost[s.removesuffix('_full')][1] * examples[s] if s in stages else 0
    return dict(nocot=fl('nocot'), nocot_full_compute=fl('nocot_full'), explicit=fl('teacher'),
                implicit=pipeline_flops(cfg, D, cost, examples), internalized=fl('teacher') + fl('internalize'))


# (name, steps, FLOPs per step) of each stage this command will train, in order
PLAN = []


def plan(cfg, D, stages, make, done):
    """PLAN for `stages`: every one not done(name) earlier, nocot_full included."""
    cost, runs = costs(cfg, D, make), []
    for s in stages:
        runs += nocot_runs(cfg, D, make) if s == 'nocot' else [(s, getattr(cfg, f'{s}_steps'))] if s in cost else []
    return [(name, steps, cfg.batch_size * cost[name.removesuffix('_full')][1]) for name, steps in runs
            if not done(name)]


def time_left(name, step, steps, work, dt):
    """', 4m05s left': this stage's remaining steps and the later stages of PLAN, at the rate
    (FLOPs per second) this stage runs now; the evaluations are not counted."""
    names = [p[0] for p in PLAN]
    if name not in names:
        return ''
    left = ((steps - step) * work + sum(n * w for _, n, w in PLAN[names.index(name) + 1:])) * dt / work
    return f', {int(left // 60)}m{int(left % 60):02d}s left'
