"""Where a training step's time goes: ms per optimizer step of the teacher, the student and the
emulator at a preset's shape, run eagerly, with every block compiled (train.py's --compile) and
with the whole model compiled, and a profile of one of them (host time against device time).

    python tests/bench_step.py                   # tiny, on the CPU: checks that it runs
    python tests/bench_step.py --device=cuda     # config/mult4x4.py's shape (12 x 256, batch 512)

The loss is the stage's own, on random targets: speed does not depend on what is learned.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402


def setup(device, shape):
    n_layer, n_embd, n_head, batch = shape
    cfg = train.parse_config(['config/mult4x4.py', '--test_file=', '--train_size=20000', '--test_size=100',
                              f'--device={device}', '--compile=false', f'--n_layer={n_layer}',
                              f'--n_embd={n_embd}', f'--n_head={n_head}', f'--batch_size={batch}'])
    return cfg, train.Data(cfg, torch.device(device))


def loss_fn(cfg, D, kind, model):
    """rows -> the stage's loss for a `kind` model, with random teacher states as targets."""
    cot, tr, P = D.train['cot'], D.train['nocot'], D.T['input']
    z = torch.randn(cfg.batch_size, cfg.n_layer, cfg.n_embd, device=D.device)        # (B, L, C)
    tokens = cot.idx[:cfg.batch_size, :cfg.n_layer]                                  # (B, L)
    if kind == 'teacher':
        return lambda r: model(cot.idx[r], cot.labels[r])[1]
    if kind == 'student':
        return lambda r: model(tr.idx[r], tr.sep1[r], z, tr.labels[r])[1]
    return lambda r: model(tr.idx[r, :P], tr.sep1[r], z, tokens, mode='train')[1]


def steps_per_s(cfg, D, kind, how, warm, timed, profile=False):
    """ms per step (forward, backward, clipping, AdamW, as train.train does it)."""
    torch.manual_seed(0)
    model = train.make(cfg, D, kind).to(D.device).train()
    if how == 'blocks':
        for block in train.core(model).transformer.h:
            block.compile()
    elif how != 'eager':
        model.compile(mode=None if how == 'whole' else how)
    opt = train.configure_optimizers([model], cfg.weight_decay, cfg.learning_rate, device_type=D.device.type)
    loss_of, N = loss_fn(cfg, D, kind, model), len(D.train['cot'])

    def step():
        r = torch.randint(N, (cfg.batch_size,), device=D.device)
        with train.autocast(D.device):
            loss = loss_of(r)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
    t0 = time.time()
    for _ in range(warm):
        step()
    train.sync(D.device)
    t1 = time.time()
    for _ in range(timed):
        step()
    train.sync(D.device)
    ms = 1000 * (time.time() - t1) / timed
    if profile:
        acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA]
                                                         if D.device.type == 'cuda' else [])
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(5):
                step()
            train.sync(D.device)
        key = 'self_cuda_time_total' if D.device.type == 'cuda' else 'self_cpu_time_total'
        print(prof.key_averages().table(sort_by=key, row_limit=15), flush=True)
    return ms, time.time() - t0 - ms * timed / 1000


def main(argv):
    device = next((a.split('=', 1)[1] for a in argv if a.startswith('--device=')), 'cpu')
    gpu = device == 'cuda'
    shape = (12, 256, 8, 512) if gpu else (2, 32, 2, 16)
    warm, timed = (10, 30) if gpu else (2, 3)
    runs = [(shape, k, 'eager') for k in ('teacher', 'student', 'emulator')]
    runs += [(shape, k, 'blocks') for k in ('teacher', 'student', 'emulator')]
    runs += [(shape, 'student', 'profile-eager'), (shape, 'student', 'profile-blocks')]
    runs += [(shape, 'teacher', 'whole'), (shape, 'teacher', 'reduce-overhead')]
    runs += [((12, 768, 12, 512) if gpu else (2, 48, 2, 16), 'teacher', how) for how in ('blocks', 'whole')]
    print(f'device: {torch.cuda.get_device_name() if gpu else "cpu"}, torch {torch.__version__}')
    print('| layers x width, batch | model | compiled | ms/step | first steps incl. compile, s |\n|---|---|---|---|---|')
    data = {}
    for shape, kind, how in runs:
        if shape not in data:
            data[shape] = setup(device, shape)
        cfg, D = data[shape]
        profile = how.startswith('profile-')
        try:
            ms, first = steps_per_s(cfg, D, kind, how.removeprefix('profile-'), warm, timed, profile)
            print(f'| {shape[0]} x {shape[1]}, {shape[3]} | {kind} | {how} | {ms:.1f} | {first:.1f} |', flush=True)
        except Exception as e:  # a variant that does not compile is a result too
            print(f'| {shape[0]} x {shape[1]}, {shape[3]} | {kind} | {how} | failed: {type(e).__name__}: '
                  f'{str(e).splitlines()[0][:200]} | |', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
