"""Where a training step's time goes: ms per optimizer step of each stage (teacher, student,
emulator, couple) under train.py's --compile choices (off, model, graphs) and batch
sizes, with MFU, and a profile of the student's step (host time against device time).

    python tools/bench_step.py                   # tiny, on the CPU: checks that it runs
    python tools/bench_step.py --device=cuda     # 12 x 256 (the GPU runs' shape) and 12 x 768, about 4 minutes

The losses are the stages' own, on random targets: speed does not depend on what is learned.
Rows are printed as they are measured, most wanted first, so a run cut short still tells.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402
import data  # noqa: E402
from tools import evaluate, flops  # noqa: E402

KINDS = ('teacher', 'student', 'emulator', 'couple')


def setup(device, train_size=20000):
    """(the 4x4 preset's config, its data at train_size problems)."""
    cfg = train.parse_config(['config/mult4x4.py', '--test_file=', f'--train_size={train_size}', '--test_size=100',
                              f'--device={device}'] + (['--peak_flops=989e12'] if device == 'cuda' else []))  # H100 bf16
    return cfg, data.Data(cfg, torch.device(device))


def losses(cfg, D, kind):
    """(the models a `kind` step trains, rows -> that stage's loss), teacher states random."""
    cot, tr, P = D.train['cot'], D.train['nocot'], D.T['input']
    z = torch.randn(cfg.batch_size, cfg.n_layer, cfg.n_embd, device=D.device)        # (B, L, C)
    tokens = cot.idx[:cfg.batch_size, :cfg.n_layer]                                  # (B, L)
    m = {k: train.make(cfg, D, k).to(D.device).train() for k in
         {'teacher': ['teacher'], 'couple': ['emulator', 'student']}.get(kind, [kind])}
    if kind == 'teacher':
        return m, lambda r: m['teacher'](cot.idx[r], cot.labels[r])[1]
    if kind == 'student':
        return m, lambda r: m['student'](tr.idx[r], tr.sep1[r], z, tr.labels[r])[1]
    if kind == 'emulator':
        return m, lambda r: m['emulator'](tr.idx[r, :P], tr.sep1[r], z, tokens, mode='train')[1]
    return m, lambda r: m['student'](tr.idx[r], tr.sep1[r], m['emulator'](tr.idx[r, :P], tr.sep1[r], mode='soft')[0],
                                     tr.labels[r])[1]


def step_ms(cfg, D, kind, warm, timed, profile=False):
    """(ms per step, seconds of the untimed first steps, compilation included); a step is
    train.optimizer_step, as in train.train."""
    torch.manual_seed(0)
    models, loss_of = losses(cfg, D, kind)
    opt = train.configure_optimizers(models.values(), cfg.weight_decay, cfg.learning_rate, device_type=D.device.type)
    params, N = [p for g in opt.param_groups for p in g['params']], len(D.train['cot'])

    def step():
        train.optimizer_step(cfg, opt, params, loss_of, torch.randint(N, (cfg.batch_size,), device=D.device))
    t0 = time.time()
    for _ in range(warm):
        step()
    evaluate.sync(D.device)
    t1 = time.time()
    for _ in range(timed):
        step()
    evaluate.sync(D.device)
    ms = 1000 * (time.time() - t1) / timed
    if profile:
        acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA]
                                                         if D.device.type == 'cuda' else [])
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(5):
                step()
            evaluate.sync(D.device)
        key = 'self_cuda_time_total' if D.device.type == 'cuda' else 'self_cpu_time_total'
        print(prof.key_averages().table(sort_by=key, row_limit=12), flush=True)
    return ms, t1 - t0


def main(argv):
    device = next((a.split('=', 1)[1] for a in argv if a.startswith('--device=')), 'cpu')
    gpu = device == 'cuda'
    base, D = setup(device)
    small = (12, 256, 8) if gpu else (2, 32, 2)
    warm, timed, batch = (10, 30, 512) if gpu else (2, 3, 16)
    # (layers, width, heads, batch, kind, compile, profile)
    runs = [(*small, batch, k, 'graphs', False) for k in KINDS]
    runs += [(*small, batch, k, 'off', False) for k in KINDS]
    runs += [(*small, 4 * batch, k, how, False) for how in ('off', 'graphs') for k in ('student', 'emulator')]
    runs += [(*small, batch, 'student', 'graphs', True)]
    runs += [(12, 768, 12, batch, 'teacher', how, False) if gpu else (2, 48, 2, batch, 'teacher', how, False)
             for how in ('model', 'graphs')]  # blocks (an option since removed): docs/gpu_runs.md
    print(f'device: {torch.cuda.get_device_name() if gpu else "cpu"}, torch {torch.__version__}')
    print('| layers x width | batch | stage | compile | ms/step | MFU | first steps, s |\n|---|---|---|---|---|---|---|')
    for n_layer, n_embd, n_head, batch_size, kind, how, profile in runs:
        cfg = train.replace(base, n_layer=n_layer, n_embd=n_embd, n_head=n_head, batch_size=batch_size, compile=how)
        row = f'| {n_layer} x {n_embd} | {batch_size} | {kind} | {how} |'
        try:
            ms, first = step_ms(cfg, D, kind, warm, timed, profile)
        except Exception as e:  # a variant that does not compile is a result too
            print(f'{row} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]} | | |', flush=True)
            continue
        mfu = f'{100 * batch_size * flops.costs(cfg, D, train.make)[kind][1] / (ms / 1000) / cfg.peak_flops:.1f}%' if gpu else '-'
        print(f'{row} {ms:.1f} | {mfu} | {first:.1f} |', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
