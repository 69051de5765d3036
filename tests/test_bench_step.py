import math

import torch

import bench_step
from conftest import needs


@needs('attention', 'hook', 'student_write', 'emulator_step')
def test_step_benchmark_runs_every_stages_loss(capsys):
    cfg, D = bench_step.setup('cpu', train_size=200)
    cfg = bench_step.train.replace(cfg, n_layer=2, n_embd=16, n_head=2, batch_size=8)
    for kind in bench_step.KINDS:
        models, loss_of = bench_step.losses(cfg, D, kind)
        loss = loss_of(torch.arange(8))
        loss.backward()
        assert loss.dim() == 0 and math.isfinite(loss.item())
        if kind == 'couple':  # gradients reach the emulator through the student, as in the stage
            assert models['emulator'].mlps[0][0].weight.grad.abs().sum() > 0
        ms, first = bench_step.step_ms(cfg, D, kind, warm=1, timed=2, profile=kind == 'student')
        assert ms > 0 and first > 0
    assert 'Self CPU time total' in capsys.readouterr().out  # the student's profile was printed
