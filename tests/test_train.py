import json
import os
import subprocess
import sys

import pytest
import torch

import train
from conftest import ROOT

SMOKE = os.path.join(ROOT, 'config', 'smoke.py')


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'train.py'), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('smoke')
    p = run(SMOKE, f'--out_dir={out}')
    assert p.returncode == 0, p.stderr[-2000:]
    return out, p.stdout


def test_all_runs_every_stage_and_writes_the_report(smoke_run):
    out, stdout = smoke_run
    for stage in train.STAGES:
        assert f'--- stage {stage}' in stdout
    for name in ('nocot', 'nocot_full', 'teacher', 'student', 'emulator', 'couple'):
        assert (out / f'{name}.pt').is_file()
    report = json.loads((out / 'report.json').read_text())
    assert report['wall_seconds'] > 0 and report['device'].startswith('cpu')
    for method in ('nocot', 'explicit', 'implicit'):
        r = report['results'][method]
        assert set(r) >= {'accuracy', 'ex_per_s_bs1', 'ex_per_s_batch', 'train_seconds'}
        assert 0 <= r['accuracy'] <= 1 and r['ex_per_s_bs1'] > 0
    assert report['stages']['nocot_full']['steps'] > report['stages']['nocot']['steps']
    assert '| implicit CoT' in (out / 'report.md').read_text()
    assert 'ms/step' in stdout and 'tok/s' in stdout and 'mistake:' in stdout


def test_a_stage_loads_the_previous_checkpoint(smoke_run, tmp_path):
    out, _ = smoke_run
    p = run(SMOKE, '--stage=student', f'--out_dir={tmp_path}')
    assert p.returncode != 0 and 'teacher.pt is missing' in p.stderr and '--stage=teacher' in p.stderr
    p = run(SMOKE, '--stage=eval', f'--out_dir={out}')  # eval alone, from the chained checkpoints
    assert p.returncode == 0, p.stderr[-2000:]
    assert 'implicit' in p.stdout


def test_coupling_trains_the_emulator_through_the_student():
    cfg = train.parse_config([SMOKE])
    D = train.Data(cfg, torch.device('cpu'))
    student, emulator = train.make(cfg, D, 'student'), train.make(cfg, D, 'emulator')
    tr, r = D.train['nocot'], torch.arange(8)
    zh, _ = emulator(tr.idx[r, :D.T['input']], tr.sep1[r], mode='soft')
    student(tr.idx[r], tr.sep1[r], zh, tr.labels[r])[1].backward()
    assert emulator.mlps[0][0].weight.grad.abs().sum() > 0
    assert emulator.gpt.transformer.wte.weight.grad.abs().sum() > 0


def test_config_errors(tmp_path):
    for args, msg in [(['--nope=1'], "unknown config key 'nope'"), (['--n_layer=two'], 'n_layer must be int'),
                      ([str(tmp_path / 'missing.py')], 'does not exist'), (['--stage=fly'], 'stage must be one of')]:
        with pytest.raises(SystemExit) as e:
            train.parse_config(args)
        assert msg in str(e.value)
    with pytest.raises(SystemExit, match='valid keys: stage, out_dir'):
        train.parse_config(['--nope=1'])
    cfg = train.parse_config([SMOKE, '--learning_rate=1', '--mixture=true'])
    assert cfg.learning_rate == 1.0 and cfg.mixture is True and cfg.n_layer == 2
