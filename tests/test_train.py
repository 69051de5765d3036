import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import types

import pytest
import torch

import train
from conftest import ROOT, needs
import data
from tools import ablate, evaluate, flops

SMOKE = os.path.join(ROOT, 'config', 'smoke.py')


def spawn(*args):
    """`python train.py ARGS` as a user types it."""
    return subprocess.run([sys.executable, os.path.join(ROOT, 'train.py'), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def run(*args):
    """train.main in this process, read like `spawn`: a subprocess spends seconds on `import torch`."""
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            train.main(list(args))
        except SystemExit as e:  # sys.exit(message): Python prints it and exits with 1
            code = e.code if isinstance(e.code, int) else 1
            print(e.code, file=sys.stderr)
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('smoke')
    p = spawn(SMOKE, f'--out_dir={out}')  # the one pipeline run as a user starts it; the rest run in-process
    assert p.returncode == 0, p.stderr[-2000:]
    return out, p.stdout


@needs()
def test_all_runs_every_stage_and_writes_the_report(smoke_run):
    out, stdout = smoke_run
    for stage in train.STAGES:  # every stage, but internalization only when switched on
        assert (f'--- stage {stage}' in stdout) == (stage != 'internalize')
    for name in ('nocot', 'nocot_full', 'teacher', 'student', 'emulator', 'couple'):
        assert (out / f'{name}.pt').is_file()
    report = json.loads((out / 'report.json').read_text())
    assert report['wall_seconds'] > 0 and report['device'].startswith('cpu')
    for method in ('nocot', 'explicit', 'implicit'):
        r = report['results'][method]
        assert set(r) >= {'accuracy', 'ex_per_s_bs1', 'ex_per_s_batch', 'train_seconds', 'train_flops'}
        assert 0 <= r['accuracy'] <= 1 and r['ex_per_s_bs1'] > 0
    assert report['stages']['nocot_full']['steps'] > report['stages']['nocot']['steps']
    flops = {k: r['train_flops'] for k, r in report['results'].items()}
    assert flops['implicit'] > flops['explicit'] > 0  # the pipeline includes its teacher
    assert abs(flops['nocot_full_compute'] / flops['implicit'] - 1) < 0.1  # nocot_full's budget: the pipeline's
    assert '| implicit CoT' in (out / 'report.md').read_text()
    assert 'ms/step' in stdout and 'tok/s' in stdout and 'mistake:' in stdout


@needs()
def test_a_stage_loads_the_previous_checkpoint(smoke_run, tmp_path):
    out, _ = smoke_run
    p = run(SMOKE, '--stage=student', f'--out_dir={tmp_path}')
    assert p.returncode != 0 and 'teacher.pt is missing' in p.stderr and '--stage=teacher' in p.stderr
    p = run(SMOKE, '--stage=eval', f'--out_dir={out}')  # eval alone, from the chained checkpoints
    assert p.returncode == 0, p.stderr[-2000:]
    assert 'implicit' in p.stdout


@needs('attention', 'hook', 'emulator_step', 'student_write')
def test_coupling_trains_the_emulator_through_the_student():
    cfg = train.parse_config([SMOKE])
    D = data.Data(cfg, torch.device('cpu'))
    student, emulator = train.make(cfg, D, 'student'), train.make(cfg, D, 'emulator')
    tr, r = D.train['nocot'], torch.arange(8)
    zh, _ = emulator(tr.idx[r, :D.T['input']], tr.sep1[r], mode='soft')
    student(tr.idx[r], tr.sep1[r], zh, tr.labels[r])[1].backward()
    assert emulator.mlps[0][0].weight.grad.abs().sum() > 0
    assert emulator.gpt.transformer.wte.weight.grad.abs().sum() > 0


def test_student_and_emulator_start_as_the_teacher_only_when_init_from_teacher():
    cfg = train.parse_config([SMOKE])
    D = data.Data(cfg, torch.device('cpu'))
    teacher = train.make(cfg, D, 'teacher')
    w = teacher.transformer.h[0].mlp.c_fc.weight
    for on in (True, False):
        for kind in ('student', 'emulator'):
            model = train.from_teacher(train.replace(cfg, init_from_teacher=on), D, kind, teacher, 1)
            assert torch.equal(model.gpt.transformer.h[0].mlp.c_fc.weight, w) == on


@needs('diagonal')
@pytest.mark.parametrize('flags, heads', [(['--recall=2'], 2), (['--recall_ahead=true'], 1),
                                          (['--recall=2', '--recall_own=true', '--recall_ahead=true'], 4)])
def test_the_teacher_trains_with_recall_heads_and_keeps_only_itself(tmp_path, monkeypatch, flags, heads):
    calls, real = [], train.recall_loss
    monkeypatch.setattr(train, 'recall_loss', lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    cfg = train.parse_config([SMOKE, *flags, f'--out_dir={tmp_path}'])
    D = data.Data(cfg, torch.device('cpu'))
    with contextlib.redirect_stdout(io.StringIO()):
        train.stage_teacher(cfg, D)
    assert len(calls) == cfg.teacher_steps and len(calls[0]) == heads
    assert set(train.load(cfg, D, 'teacher')[0]) == {'teacher'}


def spy_on_stages(smoke_run, tmp_path, monkeypatch, loss_name, flag, copied, stages):
    """Run `stages` with `flag` in a folder holding the smoke run's `copied` checkpoints, recording
    the arguments of every call of train.LOSS_NAME: (calls, cfg, D)."""
    for name in copied:
        shutil.copy(smoke_run[0] / f'{name}.pt', tmp_path)
    calls, real = [], getattr(train, loss_name)
    monkeypatch.setattr(train, loss_name, lambda *a: calls.append(a) or real(*a))
    cfg = train.parse_config([SMOKE, flag, f'--out_dir={tmp_path}'])
    D = data.Data(cfg, torch.device('cpu'))
    with contextlib.redirect_stdout(io.StringIO()):
        for stage in stages:
            stage(cfg, D)
    return calls, cfg, D


@needs()  # the smoke run's teacher and emulator: every block
def test_answer_match_adds_the_teachers_answer_streams_to_the_student_only(smoke_run, tmp_path, monkeypatch):
    calls, cfg, D = spy_on_stages(smoke_run, tmp_path, monkeypatch, 'answer_match_loss', '--answer_match=0.5',
                                  ('teacher', 'emulator'), (train.stage_student, train.stage_couple))
    assert len(calls) == cfg.student_steps  # coupling: tried, no gain on the CPU (README)
    for student_h, teacher_h, *_, J in calls:  # the student's nocot streams against the teacher's cot ones
        assert len(student_h) == len(teacher_h) == cfg.n_layer and student_h[0].requires_grad
        assert student_h[0].shape[1] == D.T['nocot'] and teacher_h[0].shape[1] == D.T['cot'] and J == D.T['answer']


@needs()  # the smoke run's teacher: every block
def test_cached_teacher_states_are_the_live_ones(smoke_run, monkeypatch):
    out, _ = smoke_run
    cfg = train.parse_config([SMOKE, f'--out_dir={out}'])
    D = data.Data(cfg, torch.device('cpu'))
    teacher = train.load(cfg, D, 'teacher')[0]['teacher']
    r = torch.tensor([5, 0, 399, 5])
    (z, t), (z_live, t_live) = (train.teacher_reader(c, D, teacher)(r)
                                for c in (cfg, train.replace(cfg, cache_states=False)))
    assert z.shape == (4, cfg.n_layer, cfg.n_embd) and torch.equal(t, t_live)
    assert torch.allclose(z, z_live, atol=1e-5) and z.std() > 0.5
    monkeypatch.setattr(train.os, 'sysconf', lambda name: 10)  # a machine with 100 bytes free
    with pytest.raises(SystemExit, match='states of 400 training examples needs .* GB.*--cache_states=false'):
        train.teacher_reader(cfg, D, teacher)


@needs()
def test_decoding_without_early_stop_reads_the_same_answers(smoke_run):
    """--compile=graphs decodes every answer to full length (a CUDA graph cannot stop early)."""
    out, _ = smoke_run
    cfg = train.parse_config([SMOKE, f'--out_dir={out}'])
    D = data.Data(cfg, torch.device('cpu'))
    models = {k: v for name in ('nocot', 'teacher', 'couple') for k, v in train.load(cfg, D, name)[0].items()}
    stop, full = (train.generators(c, D, models) for c in (cfg, train.replace(cfg, compile='graphs')))
    P, rows = D.test['nocot'].idx[:, :D.T['input']], torch.arange(len(D.test['nocot']))
    assert stop['nocot'](P, rows).size(1) < full['nocot'](P, rows).size(1)  # the smoke no-CoT model stops early
    for name in stop:
        assert evaluate.answers(cfg, D, stop[name])[0] == evaluate.answers(cfg, D, full[name])[0], name


@needs()
def test_couple_learning_rate_is_couplings_own(smoke_run, tmp_path):
    out, _ = smoke_run
    for name in ('teacher', 'student', 'emulator'):
        shutil.copy(out / f'{name}.pt', tmp_path / f'{name}.pt')
    p = run(SMOKE, '--stage=couple', '--couple_learning_rate=1e-12', f'--out_dir={tmp_path}')
    assert p.returncode == 0, p.stderr[-2000:]
    before = torch.load(tmp_path / 'student.pt', weights_only=True)['models']['student']
    for folder in (tmp_path, out):  # coupled at 1e-12, and at the smoke run's learning_rate
        after = torch.load(folder / 'couple.pt', weights_only=True)['models']['student']
        moved = max((after[k].float() - before[k].float()).abs().max().item() for k in before)
        assert (moved < 1e-9) == (folder == tmp_path), (folder, moved)
    (tmp_path / 'couple.pt').unlink()
    stops([SMOKE, '--stage=couple', '--couple_learning_rate=1e30', f'--out_dir={tmp_path}'],
          'couple loss is nan', '--couple_learning_rate (now 1e+30)')


def test_config_errors(tmp_path):
    for args, msg in [(['--nope=1'], "unknown config key 'nope'"), (['--n_layer=two'], 'n_layer must be int'),
                      ([str(tmp_path / 'missing.py')], 'does not exist'), (['--stage=fly'], 'stage must be one of'),
                      (['--compile=true'], "compile must be one of ('off', 'model', 'graphs')")]:
        with pytest.raises(SystemExit) as e:
            train.parse_config(args)
        assert msg in str(e.value)
    with pytest.raises(SystemExit, match='valid keys: stage, out_dir'):
        train.parse_config(['--nope=1'])
    cfg = train.parse_config([SMOKE, '--learning_rate=1', '--mixture=true'])
    assert cfg.learning_rate == 1.0 and cfg.mixture is True and cfg.n_layer == 2
    for preset in sorted(os.listdir(os.path.join(ROOT, 'config'))):  # every preset names only valid keys
        cfg = train.parse_config([os.path.join(ROOT, 'config', preset)])
        assert cfg.couple_learning_rate <= cfg.learning_rate, preset


# ----------------------------------------------------------------------------- interruption

KILLER = '''
import os, signal, sys
import torch
sys.path.insert(0, {root!r})
import train

def die():
    os.kill(os.getpid(), signal.SIGKILL)

mode, n = sys.argv[1].split(':')
count = [0]
def nth():
    count[0] += 1
    return count[0] == int(n)
if mode == 'step':    # mid-step: after backward, before the update
    real_step = torch.optim.AdamW.step
    torch.optim.AdamW.step = lambda self, *a, **k: die() if nth() else real_step(self, *a, **k)
elif mode == 'save':  # mid-checkpoint: half a file written
    real_save = torch.save
    def save(obj, f, *a, **k):
        if nth():
            open(f, 'wb').write(b'half a checkpoint')
            die()
        return real_save(obj, f, *a, **k)
    torch.save = save
elif mode == 'stage':  # between stages
    setattr(train, 'stage_' + n, lambda *a: die())
train.main(sys.argv[2:])
'''


def timeless(report):
    """What a report measured, less what a clock measures."""
    strip = lambda d: {k: strip(v) for k, v in d.items() if 'seconds' not in k and 'ex_per_s' not in k} \
        if isinstance(d, dict) else d
    return strip({'results': report['results'], 'stages': report['stages']})


@needs()
def test_killed_runs_resume_to_the_same_report(smoke_run, tmp_path):
    out = tmp_path / 'out'
    killer = tmp_path / 'killer.py'
    killer.write_text(KILLER.format(root=ROOT))
    args = [SMOKE, f'--out_dir={out}', '--ckpt_interval=2']
    resumed = 0
    for kill in ('step:3', 'save:4', 'stage:student'):  # mid-step, mid-checkpoint, between stages
        p = subprocess.run([sys.executable, str(killer), kill, *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == -9, (kill, p.stderr[-2000:])  # SIGKILL, as a preempted machine would
        resumed += p.stdout.count('resuming at step')
    p = run(*args)
    assert p.returncode == 0, p.stderr[-2000:]
    resumed += p.stdout.count('resuming at step')
    assert resumed >= 1 and 'finished earlier' in p.stdout
    reference, _ = smoke_run  # the same command, never interrupted (ckpt_interval changes no result)
    got = json.loads((out / 'report.json').read_text())
    want = json.loads((reference / 'report.json').read_text())
    assert timeless(got) == timeless(want)


@needs()
def test_same_seed_same_report(smoke_run, tmp_path):
    p = run(SMOKE, f'--out_dir={tmp_path}')
    assert p.returncode == 0, p.stderr[-2000:]
    reference, _ = smoke_run
    assert timeless(json.loads((tmp_path / 'report.json').read_text())) == \
        timeless(json.loads((reference / 'report.json').read_text()))


# ----------------------------------------------------------------------------- one clear error each

def fails(p, *needles):
    assert p.returncode != 0 and 'Traceback' not in p.stderr, p.stderr[-2000:]
    for needle in needles:
        assert needle in p.stderr, (needle, p.stderr[-2000:])


def stops(args, *needles):
    """train.main in this process: it must stop with one clear message (SystemExit, exit code 1)."""
    fails(run(*args), *needles)


def test_malformed_data_line(tmp_path):
    bad = tmp_path / 'bad.txt'
    bad.write_text('1 2 * 3 4||4 6 0 + 0 3 6 1 #### 4 9 6 1\n1 2 * 3 4 #### 4 9 6 1\n')
    stops([SMOKE, f'--test_file={bad}', f'--out_dir={tmp_path}'], f'{bad}:2')
    assert not (tmp_path / 'nocot.pt').exists()


def test_empty_or_missing_data_file(tmp_path):
    empty = tmp_path / 'empty.txt'
    empty.write_text('')
    stops([SMOKE, f'--train_file={empty}', f'--out_dir={tmp_path}'], 'empty.txt holds no examples')
    stops([SMOKE, f'--test_file={tmp_path / "nope.txt"}', f'--out_dir={tmp_path}'], 'nope.txt does not exist')


def test_unknown_key_wrong_type_missing_config_file(tmp_path):
    fails(spawn(SMOKE, '--n_layers=3'), "unknown config key 'n_layers'", 'valid keys: stage, out_dir')  # exit code
    stops([SMOKE, '--batch_size=big'], 'batch_size must be int')
    stops([str(tmp_path / 'nope.py')], 'nope.py does not exist')


@needs()
def test_checkpoint_that_does_not_fit(smoke_run, tmp_path):
    out, _ = smoke_run
    (tmp_path / 'teacher.pt').write_bytes((out / 'teacher.pt').read_bytes())
    fails(run(SMOKE, '--stage=student', '--n_embd=32', f'--out_dir={tmp_path}'), 'teacher.pt does not fit this config')
    assert not (tmp_path / 'student.pt').exists()


@needs('attention', 'hook')
def test_non_finite_loss(tmp_path):
    stops([SMOKE, '--stage=teacher', '--learning_rate=1e30', '--ckpt_interval=2', f'--out_dir={tmp_path}'],
          'teacher loss is nan at step', '--learning_rate')
    assert not (tmp_path / 'teacher.pt').exists()


# ----------------------------------------------------------------------------- GSM8K

@needs()
def test_gsm8k_pipeline_runs_and_learns(tmp_path):
    gsm = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'gsm8k')
    if not os.path.isdir(gsm):
        pytest.skip(f'{gsm} is absent (the official files live in ../shared/data)')
    # a few hundred of the shortest training lines and a few test lines keep it to seconds
    def shortest(name, n, pool):
        lines = open(os.path.join(gsm, name), encoding='utf-8').read().split('\n')[:pool]
        return '\n'.join(sorted((s for s in lines if s.strip()), key=len)[:n]) + '\n'
    (tmp_path / 'train.txt').write_text(shortest('train_no_aug.txt', 200, 1000), encoding='utf-8')
    (tmp_path / 'test.txt').write_text(shortest('test.txt', 8, 100), encoding='utf-8')
    p = run(SMOKE, f'--train_file={tmp_path / "train.txt"}', f'--test_file={tmp_path / "test.txt"}',
            '--mixture=true', '--batch_size=8', '--teacher_steps=60', '--learning_rate=1e-2', '--nocot_full=false',
            f'--out_dir={tmp_path}')
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads((tmp_path / 'report.json').read_text())
    vocab = torch.load(tmp_path / 'teacher.pt', weights_only=True)['models']['teacher']['lm_head.weight'].size(0)
    assert report['stages']['teacher']['final_loss'] < 0.8 * math.log(vocab)  # uniform guessing is log V
    assert set(report['results']) >= {'nocot', 'explicit', 'implicit'}


@needs('attention', 'hook')
def test_selection_on_validation(tmp_path):
    valid = tmp_path / 'valid.txt'
    valid.write_text('\n'.join(train.data.generate_multiplication(2, 2, 20, seed=7)) + '\n')
    p = run(SMOKE, '--stage=teacher', f'--valid_file={valid}', '--eval_interval=2', '--teacher_steps=6',
            f'--out_dir={tmp_path}')
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count('valid examples') == 3 and 'teacher: keeping step' in p.stdout
    best = torch.load(tmp_path / 'teacher.best.pt', weights_only=True)
    final = torch.load(tmp_path / 'teacher.pt', weights_only=True)
    assert best['step'] in (2, 4, 6) and f'keeping step {best["step"]}' in p.stdout
    for k, v in best['models']['teacher'].items():
        assert torch.equal(v, final['models']['teacher'][k])  # the final checkpoint is the best one
    # training the stage again from scratch forgets the old best instead of comparing against it
    (tmp_path / 'teacher.pt').unlink()
    p = run(SMOKE, '--stage=teacher', f'--valid_file={valid}', '--eval_interval=2', '--teacher_steps=2',
            f'--out_dir={tmp_path}')
    assert p.returncode == 0 and 'teacher: keeping step 2' in p.stdout, p.stderr[-2000:]


@needs()
def test_ablations_share_the_teacher_and_write_one_table(smoke_run, tmp_path):
    out, _ = smoke_run
    shutil.copy(out / 'teacher.pt', tmp_path / 'teacher.pt')
    p = run(SMOKE, '--stage=ablate', f'--out_dir={tmp_path}', '--test_size=10', '--recall=1')
    assert p.returncode == 0, p.stderr[-2000:]
    assert 'teacher: finished earlier' in p.stdout  # one teacher serves every variant but no_recall
    table = (tmp_path / 'ablation.md').read_text()
    rows = json.loads((tmp_path / 'ablation.json').read_text())['rows']
    variants = ablate.ablations(train.parse_config([SMOKE, '--recall=1']))
    assert [r['variant'] for r in rows] == [a[0] for a in variants]
    # each option not in the paper that the config turns on gets a row with it off
    assert [a[0] for a in variants[len(ablate.ABLATIONS):]] == ['no_recall', 'no_init_from_teacher']
    own = torch.load(tmp_path / 'no_recall' / 'teacher.pt', weights_only=True)
    assert own['config']['recall'] == 0 and own['done']
    for folder, label, change, shared in variants:
        assert f'| {label} |' in table
        ckpt = lambda name: torch.load(tmp_path / folder / f'{name}.pt', weights_only=True)
        for name in ('student', 'emulator', 'couple'):
            assert all(ckpt(name)['config'][k] == v for k, v in change.items()) or name in shared
        same = lambda name: (tmp_path / folder / f'{name}.pt').read_bytes() == \
            (tmp_path / 'diagonal' / f'{name}.pt').read_bytes()
        assert same('teacher') == (folder != 'no_recall')
        assert same('student') == (folder == 'diagonal' or 'student' in shared)
    # the frozen variant's coupling leaves the shared emulator exactly as it was
    emu = torch.load(tmp_path / 'frozen' / 'emulator.pt', weights_only=True)['models']['emulator']
    coupled = torch.load(tmp_path / 'frozen' / 'couple.pt', weights_only=True)['models']['emulator']
    assert all(torch.equal(emu[k], coupled[k]) for k in emu)
    coupled = torch.load(tmp_path / 'diagonal' / 'couple.pt', weights_only=True)['models']['emulator']
    assert not all(torch.equal(emu[k], coupled[k]) for k in emu)


def test_4x4_preset_trains_each_stage_as_the_measured_recipe():
    """The README's 4x4 numbers were measured with cpu_full.py and flags (2026-12-06); the preset's
    four commands must set every key a stage trains by alike. Other stages' step counts, the
    no-CoT keys and answer_match outside the student only plan or time what a stage does not run."""
    measured = [os.path.join(ROOT, 'config', 'cpu_full.py'), '--task=mult4x4', '--train_size=200000', '--n_layer=12',
                '--recall=4', '--recall_own=true', '--recall_ahead=true', '--test_file=../shared/data/mult4x4/test.txt']
    preset = [os.path.join(ROOT, 'config', 'mult4x4.py')]
    stages = dict(teacher=(['--teacher_steps=2000', '--learning_rate=3e-3'], ['--learning_rate=3e-3']),
                  student=(['--student_steps=3000', '--learning_rate=1e-3', '--answer_match=3.0', '--eval_interval=1000'],
                           ['--eval_interval=1000']),
                  emulator=(['--emulator_steps=60000', '--learning_rate=1e-3', '--decay_lr=false', '--eval_interval=4000'],
                            ['--decay_lr=false', '--eval_interval=4000']),
                  couple=(['--couple_steps=6000', '--couple_learning_rate=3e-4', '--eval_interval=1000'],
                          ['--eval_interval=1000']))
    for stage, (then, now) in stages.items():
        a = vars(train.parse_config(measured + then + ['--out_dir=x', '--device=cpu', f'--stage={stage}']))
        b = vars(train.parse_config(preset + now + ['--out_dir=x', '--device=cpu', f'--stage={stage}']))
        ignored = {f'{s}_steps' for s in train.STAGES if s != stage} | {'nocot_full'} | \
            ({'learning_rate'} if stage == 'couple' else set()) | ({'answer_match'} if stage != 'student' else set())
        assert {k for k in a if a[k] != b[k]} <= ignored, stage
    assert train.parse_config(preset + ['--stage=couple']).couple_learning_rate == 3e-4  # what couple runs at


@needs()
@pytest.mark.parametrize('preset', ['mult4x4', 'mult5x5'])
def test_4x4_and_5x5_presets_run_tiny_on_cpu(preset, tmp_path):
    """Each preset in one go, shrunk to seconds, as a GPU run would start it: what a CPU can catch."""
    test_file = os.path.join(os.path.dirname(ROOT), 'shared', 'data', preset, 'test.txt')
    extra = [] if os.path.isfile(test_file) else ['--test_file=']  # without ../shared: a generated test set
    tiny = ['--device=cpu', '--compile=off', '--train_size=300', '--test_size=20', '--n_layer=2', '--n_head=2',
            '--n_embd=16', '--batch_size=8', '--speed_examples=2', '--log_interval=2', '--ckpt_interval=2',
            '--eval_batch_size=200'] + [f'--{s}_steps=2' for s in ('nocot', 'teacher', 'student', 'emulator', 'couple')]
    p = run(os.path.join(ROOT, 'config', f'{preset}.py'), *tiny, *extra, f'--out_dir={tmp_path}')
    assert p.returncode == 0, p.stderr[-2000:]
    assert (tmp_path / 'report.json').is_file()


@needs()  # the smoke run's models: every block
def test_ask_answers_one_question_every_way(smoke_run):
    out, _ = smoke_run
    p = run(SMOKE, '--stage=ask', '--question=52*86', f'--out_dir={out}')
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert '52 * 86' in lines[1]
    for label in ('explicit CoT', 'implicit CoT', 'no-CoT'):
        assert any(line.startswith(label) for line in lines), (label, p.stdout)
    assert lines[-1].split() == ['true', 'answer', '4472']
    for question in ('5 * 86', '52 * 8 6', '05 * 86', '52 + 86', 'fifty-two times 86', ''):
        stops([SMOKE, '--stage=ask', f'--question={question}', f'--out_dir={out}'],
              'must be a 2-digit number times a 2-digit number for task mult2x2')


def test_time_left_counts_this_stage_and_the_later_ones(monkeypatch):
    monkeypatch.setattr(flops, 'PLAN', [('teacher', 10, 1.0), ('student', 20, 2.0), ('couple', 5, 4.0)])
    # student at step 10 of 20, 0.5 s a step for 2 FLOPs: 10 steps left and 20 FLOPs of coupling at 4 FLOP/s
    assert flops.time_left('student', 10, 20, 2.0, 0.5) == ', 0m10s left'
    assert flops.time_left('couple', 5, 5, 4.0, 60.0) == ', 0m00s left'
    assert flops.time_left('ablate_variant', 1, 5, 4.0, 1.0) == ''  # not planned: no estimate


def test_train_flops_count_each_stage_at_the_batch_size_it_trained_at():
    cfg = train.parse_config([SMOKE])
    D = data.Data(cfg, torch.device('cpu'))
    cost = {k: c for k, (_, c) in flops.costs(cfg, D, train.make).items()}
    stages = {s: dict(steps=10, batch_size=cfg.batch_size) for s in flops.PIPELINE}
    stages['internalize'] = dict(steps=10, batch_size=3 * cfg.batch_size)  # another batch than its teacher's
    work = flops.method_flops(cfg, D, train.make, stages)
    assert work['explicit'] == 10 * cfg.batch_size * cost['teacher']
    assert work['internalized'] == work['explicit'] + 30 * cfg.batch_size * cost['internalize']


def test_bad_values_stop_with_one_line(tmp_path):
    (tmp_path / 'a_file').write_text('x')
    bad_syntax = tmp_path / 'bad_syntax.py'
    bad_syntax.write_text('n_layer = 2\nn_head = (\n')
    bad_name = tmp_path / 'bad_name.py'
    bad_name.write_text('n_layer = two\n')
    for args, needle in [
            (['--n_embd=30', '--n_head=4'], 'n_embd (30) must be a multiple of n_head (4)'),
            ([f'--out_dir={tmp_path / "a_file"}'], 'a_file is a file, not a folder'),
            (['--teacher_steps=-5'], 'teacher_steps must be at least 1, got -5'),
            (['--batch_size=0'], 'batch_size must be at least 1, got 0'),
            (['--learning_rate=-1e-3'], 'learning_rate must not be negative'),
            (['--task=mult0x2'], "task must be multNxM with N and M from 1 to 9"),
            (['--task=mult40x40'], "got 'mult40x40'"),
            (['--task=add2x2'], "got 'add2x2'"),
            ([str(bad_syntax)], f'{bad_syntax}:2: '),
            ([str(bad_name)], f"{bad_name}: NameError: name 'two' is not defined"),
            (['--device=tpu'], "device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'")]:
        with pytest.raises(SystemExit) as e:
            train.parse_config([SMOKE] + args)
        assert needle in str(e.value), (args, str(e.value))
        assert len(str(e.value).splitlines()) <= 2  # the message, then the list of valid keys


def test_bad_data_files_name_the_file_and_line(tmp_path):
    latin = tmp_path / 'latin1.txt'
    latin.write_bytes('1 2 * 3 4||caf\xe9 #### 4 9 6 1\n'.encode('latin-1'))
    stops([SMOKE, f'--test_file={latin}', f'--out_dir={tmp_path}'], f'{latin}: not UTF-8 text')
    wrong = tmp_path / 'wrong.txt'  # 21 * 43 = 903: first a good line, then a wrong answer, then the wrong sizes
    wrong.write_text('1 2 * 3 4||3 6 0 + 0 4 8 0 #### 3 0 9 0\n1 2 * 3 4||3 6 0 + 0 4 8 0 #### 3 0 9 1\n'
                     '1 * 3 4||3 + 0 4 #### 3 0 1\n')
    stops([SMOKE, f'--test_file={wrong}', f'--out_dir={tmp_path}'], f'{wrong}:2: not the line of 21 * 43 = 903')
    wrong.write_text('1 * 3 4||3 + 0 4 #### 3 0 1\n')
    stops([SMOKE, f'--test_file={wrong}', f'--out_dir={tmp_path}'], f'{wrong}:1: operands 1 and 43 are not 2 and 2 digits')
    stops([SMOKE, f'--test_file={tmp_path / "nope.txt"}', f'--out_dir={tmp_path}'], 'github.com/da03/implicit_chain_of_thought')


@needs()  # the smoke run's teacher: every block
def test_a_damaged_checkpoint_stops_and_stays(smoke_run, tmp_path):
    out, _ = smoke_run
    for name in ('teacher', 'student', 'emulator', 'couple', 'nocot', 'nocot_full'):
        shutil.copy(out / f'{name}.pt', tmp_path / f'{name}.pt')
    whole = (out / 'couple.pt').read_bytes()
    (tmp_path / 'couple.pt').write_bytes(whole[:len(whole) // 2])  # a truncated file
    stops([SMOKE, '--stage=eval', f'--out_dir={tmp_path}'], f'{tmp_path / "couple.pt"} is not a readable checkpoint')
    assert (tmp_path / 'couple.pt').read_bytes() == whole[:len(whole) // 2]  # left as it was
    torch.save({'something': 1}, tmp_path / 'couple.pt')
    stops([SMOKE, '--stage=eval', f'--out_dir={tmp_path}'], 'couple.pt is not a checkpoint of train.py')


@needs()  # the smoke run's models: every block
def test_checkpoints_describe_themselves(smoke_run, tmp_path):
    out, _ = smoke_run
    state = torch.load(out / 'teacher.pt', weights_only=True)
    assert state['config']['n_layer'] == 2 and state['config']['task'] == 'mult2x2' and len(state['vocab']) > 10
    # eval and ask read the training flags from the folder: no preset, no flags but the folder
    p = run('--stage=ask', '--question=12 * 34', f'--out_dir={out}')
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1].split() == ['true', 'answer', '0408']  # 4 digits, as the models write it
    # a flag that contradicts the checkpoints is refused, naming both values
    stops(['--stage=eval', '--n_embd=32', '--n_head=2', f'--out_dir={out}'],
          'nocot.pt does not fit this config: it was trained with n_embd=16, this run has n_embd=32')


@needs()  # the smoke run's teacher: every block
def test_eval_on_a_folder_takes_the_emulators_kind_from_it(smoke_run, tmp_path):
    out, _ = smoke_run
    state = torch.load(out / 'teacher.pt', weights_only=True)
    state['config']['use_lstm'] = False
    torch.save(state, tmp_path / 'teacher.pt')
    cfg = train.parse_config([f'--out_dir={tmp_path}'])
    assert not train.parse_config([f'--out_dir={tmp_path}'], base=train.checkpoints.trained_config(cfg)).use_lstm


def test_ablate_variants_picks_rows():
    cfg = train.parse_config([SMOKE, '--recall=1', '--variants=diagonal,no_recall'])
    assert [a[0] for a in ablate.ablations(cfg)] == ['diagonal', 'no_recall']
    with pytest.raises(SystemExit, match=r"variants \['nope'\] unknown; this config has diagonal, first_column"):
        ablate.ablations(train.parse_config([SMOKE, '--variants=diagonal,nope']))


@needs()  # the smoke run's teacher: every block
def test_internalize_stage_reports_its_row_and_resumes_after_a_kill(smoke_run, tmp_path):
    out, _ = smoke_run
    args = ['--stage=internalize', '--internalize=true', '--internalize_steps=6', '--ckpt_interval=2',
            '--internalize_delta=4']  # 400 problems, batch 16: one more token removed every 6 steps
    killer = tmp_path / 'killer.py'
    killer.write_text(KILLER.format(root=ROOT))
    for folder, kill in ((tmp_path / 'whole', None), (tmp_path / 'killed', 'step:3')):
        folder.mkdir()
        shutil.copy(out / 'teacher.pt', folder / 'teacher.pt')
        if kill:  # killed mid-step 3, then the same command again resumes from step 2's checkpoint
            p = subprocess.run([sys.executable, str(killer), kill, SMOKE, f'--out_dir={folder}', *args],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert p.returncode != 0 and (folder / 'internalize.pt').exists()
        p = run(SMOKE, f'--out_dir={folder}', *args)
        assert p.returncode == 0, p.stderr[-2000:]
        assert ('resuming at step 2' in p.stdout) == bool(kill)
    a, b = (torch.load(tmp_path / f / 'internalize.pt', weights_only=True) for f in ('whole', 'killed'))
    assert a['result']['final_loss'] == b['result']['final_loss'] and a['result']['steps_per_token'] == 6
    assert all(torch.equal(a['models']['internalize'][k], b['models']['internalize'][k]) for k in a['models']['internalize'])
    # in `all` and the report, beside the other ways of answering
    for name in ('student', 'emulator', 'couple', 'nocot', 'nocot_full'):
        shutil.copy(out / f'{name}.pt', tmp_path / 'whole' / f'{name}.pt')
    p = run(SMOKE, f'--out_dir={tmp_path / "whole"}', '--internalize=true', '--stage=eval')
    assert p.returncode == 0, p.stderr[-2000:]
    assert '| implicit CoT (stepwise internalization) |' in (tmp_path / 'whole' / 'report.md').read_text()
    assert 'internalized' in json.loads((tmp_path / 'whole' / 'report.json').read_text())['results']


@needs()
def test_the_results_log_reads_a_report_and_a_stage_run(smoke_run, tmp_path):
    import log_result
    out, stdout = smoke_run
    line = log_result.entry(json.loads((out / 'report.json').read_text()), note='n')
    assert line['results']['implicit']['accuracy'] == json.loads((out / 'report.json').read_text())['results']['implicit']['accuracy']
    assert len(line['fvu']) == 2 and line['note'] == 'n' and line['commit']
    (tmp_path / 'log').write_text(stdout)
    stage = log_result.stage_entry(str(out / 'emulator.pt'), 'python train.py X', str(tmp_path / 'log'))
    assert stage['stage'] == 'emulator' and stage['command'] == 'python train.py X' and len(stage['fvu']) == 2
    assert stage['accuracy_at_each_eval'] and all(0 <= a <= 1 for a in stage['accuracy_at_each_eval'])
