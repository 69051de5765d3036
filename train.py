"""One flat script for the whole method: baselines, the four stages, evaluation, the report.

    python train.py config/cpu_demo.py                 # everything, 2x2 multiplication, CPU
    python train.py config/cpu_demo.py --stage=eval    # one stage; each loads the last one's checkpoint
    python train.py --n_layer=6 --task=mult3x3 ...     # any key of Config, type-checked

Stages: teacher (explicit CoT), student (mind-reading the teacher), emulator (predicting the
teacher's states), couple (emulator + student fine-tuned together), internalize (the follow-up
method, stepwise internalization), nocot (the no-CoT baseline), eval (accuracy and speed of every
way to answer); `all` runs them in this order. Checkpoints, scoring and the report: tools/.
"""
import math
import os
import sys
import time
from dataclasses import dataclass, replace

import torch

import data
from emulator import Emulator, fvu
from gpt import GPT, GPTConfig, autocast, configure_optimizers
from student import Student, answer_match_loss
from teacher import (SUBSETS, cached_states, extract_states, recall_heads, recall_loss, removal_smoothing,
                     removed_at, remove_cot, resets_at)
from tools import ablate, ask, checkpoints, config, flops, gpt2, report, speed
from tools.checkpoints import checkpoint, ckpt_path, finished, restore, resume, save, validate
from tools.evaluate import accuracy
from tools.report import fmt

COMPILE = ('off', 'model', 'graphs')
STAGES = ('teacher', 'student', 'emulator', 'couple', 'internalize', 'nocot', 'eval')  # the method first: a run cut short still shows it


@dataclass
class Config:
    stage: str = 'all'              # one of STAGES, all, ablate (the paper's ablations, one table) or ask
    out_dir: str = 'out'
    seed: int = 0
    device: str = 'auto'            # auto = cuda when there is one
    # data: a generated multNxM task, or files in the `input||cot #### answer` format
    task: str = 'mult2x2'
    train_size: int = 7000
    test_size: int = 500
    train_file: str = ''
    test_file: str = ''             # e.g. ../shared/data/mult4x4/test.txt
    valid_file: str = ''            # set: each stage keeps its checkpoint that scores best here
    # every model has the teacher's shape
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    # the method (the paper)
    subset: str = 'diagonal'        # which teacher cells: diagonal, first_column, last_column, top_row, bottom_row
    stride: int = 0                 # > 0: a fixed step of tokens instead of the diagonal (the paper code's option)
    mixture: bool = False           # token-conditioned mixture in the emulator: several reasoning paths (GSM8K)
    use_lstm: bool = True           # the emulator's LSTM + attention across layers
    init_from: str = ''             # gpt2, gpt2-medium, gpt2-large: every model starts from GPT-2 ('' = scratch)
    freeze_emulator: bool = False   # couple: train the student only (the paper's ablation)
    # options not in the paper (docs/ has the runs for each; --stage=ablate turns each off in turn)
    init_from_teacher: bool = True  # student and emulator start from the teacher: from scratch, the analogue of GPT-2
    recall: int = 0                 # > 0: each cell also predicts the `recall` tokens before it, so z holds them
    recall_ahead: bool = False      # ... and the token after it, which recall costs the cell
    recall_own: bool = False        # ... and its own token
    recall_weight: float = 1.0
    answer_match: float = 0.0       # > 0: the student's answer streams also learn the teacher's (a gradient for each summand)
    # stepwise internalization (Deng et al. 2024), the follow-up method, trained beside distillation
    internalize: bool = False       # run stage internalize in `all` too, and report it
    internalize_steps: int = 1000
    internalize_delta: float = 8.0  # CoT tokens removed per epoch of the training set (the paper: 8)
    internalize_lambda: float = 4.0  # removal smoothing: o more tokens with P(o) ~ exp(-lambda o); inf: none
    internalize_reset: bool = True  # fresh AdamW moments whenever k grows (the paper's --reset_optimizer)
    internalize_learning_rate: float = 0.0  # > 0: its own rate (it fine-tunes the trained teacher)
    # speed only: the same result, sooner
    cache_states: bool = True       # run the frozen teacher once over the training set, not every step
    # optimisation
    batch_size: int = 128
    learning_rate: float = 3e-3
    couple_learning_rate: float = 0.0  # > 0: coupling's own rate (it fine-tunes two trained models)
    weight_decay: float = 0.01
    warmup_steps: int = 20
    decay_lr: bool = True           # cosine decay to 0 over each stage (False: constant, as in the paper)
    grad_clip: float = 1.0
    nocot_steps: int = 300
    nocot_full: bool = True         # also train no-CoT on the whole pipeline's compute
    teacher_steps: int = 300
    student_steps: int = 300
    emulator_steps: int = 300
    couple_steps: int = 300
    # logging and evaluation
    log_interval: int = 50
    compile: str = 'off'            # off, model (torch.compile each model's forward), graphs (model + CUDA graphs)
    peak_flops: float = 0.0         # the device's peak FLOP/s (e.g. 989e12, H100 bf16 dense): prints MFU
    eval_interval: int = 0          # 0: evaluate at the end of each stage only
    ckpt_interval: int = 100        # steps between checkpoints inside a stage (a rerun resumes there)
    eval_batch_size: int = 500
    speed_examples: int = 50        # examples timed at batch size 1
    question: str = ''              # stage ask: e.g. "52 * 86", answered by every trained model
    variants: str = ''              # stage ablate: only these rows, comma-separated ('' = all)


def parse_config(argv, base=None):
    """Config from `[config/NAME.py] [--key=value ...]`: `base` (a saved config), then the
    file's assignments, then the flags, each value then checked (tools/config.py)."""
    positive = ('n_layer', 'n_head', 'n_embd', 'train_size', 'test_size', 'batch_size', 'eval_batch_size',
                'log_interval', 'ckpt_interval') + tuple(f'{s}_steps' for s in STAGES[:-1])
    choices = dict(stage=STAGES + ('all', 'ablate', 'ask'), compile=COMPILE, subset=SUBSETS)
    return config.check(config.read(argv, Config, base), Config, choices, positive)


# ----------------------------------------------------------------------------- models

def make(cfg, D, kind):
    gc = GPTConfig(n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, block_size=D.block_size,
                   vocab_size=len(D.vocab), dropout=cfg.dropout, bias=True)
    if kind in ('nocot', 'teacher', 'internalize'):
        model = GPT(gc)
    elif kind == 'student':
        model = Student(gc)
    else:
        model = Emulator(gc, mixture_size=len(D.vocab) if cfg.mixture else 0, use_lstm=cfg.use_lstm)
    if cfg.compile != 'off':  # forward (training, the emulator's pass) as one graph; decoding stays eager
        # 'graphs' replays each step's kernels as CUDA graphs: at 12 x 256 the host, not the GPU,
        # sets the pace, and this halved the teacher's step on an H100 (docs/gpu_runs.md)
        model.compile(mode='reduce-overhead' if cfg.compile == 'graphs' else None)
    return model


def start(cfg, D, kind, seed):
    """A new model for a stage: random weights, or GPT-2's in every GPT when init_from is set."""
    torch.manual_seed(seed)
    model = make(cfg, D, kind).to(D.device)
    if cfg.init_from:  # the GPT itself, or the one inside a student or an emulator
        (model if isinstance(model, GPT) else model.gpt).load_state_dict(gpt2.state_dict(cfg.init_from))
    return model


def load(cfg, D, name):
    """(models, result) of the finished stage NAME (tools/checkpoints.py)."""
    return checkpoints.load(cfg, D, name, lambda kind: make(cfg, D, kind))


# ----------------------------------------------------------------------------- training

def train(cfg, D, name, models, loss_fn, steps, evaluate, lr_flag='learning_rate', keep=None, on_step=None, **extra):
    """The one loop of every stage: loss_fn(rows) -> loss on the training examples `rows`.
    `models` (name -> module) are checkpointed every ckpt_interval steps; what has trainable
    parameters trains. A rerun resumes from the last checkpoint, bit for bit. A non-finite
    loss stops the run and names --lr_flag, the flag that sets this stage's rate. At the end
    the stage's final checkpoint holds `keep` (default: models) and its result: evaluate()'s
    dict, `extra`, the training seconds and the last loss. on_step(step, opt), when given, runs
    before each step (internalize's schedule); it must depend on the step alone, for resuming."""
    N, device = len(D.train['nocot']), D.device
    tokens, work = (cfg.batch_size * c for c in flops.costs(cfg, D, make)[name.removesuffix('_full')])  # per step
    opt = configure_optimizers(models.values(), cfg.weight_decay, cfg.learning_rate, device_type=device.type)
    params = [p for g in opt.param_groups for p in g['params']]
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    step0, seconds = resume(cfg, D, name, models, opt, gen)  # 0, 0.0 for a fresh start
    for m in models.values():
        m.train()
    t_log, t0, last, loss_v = time.time(), time.time(), step0, None
    for step in range(step0 + 1, steps + 1):
        for g in opt.param_groups:
            g['lr'] = lr_at(cfg, step, steps)
        rows = torch.randint(N, (cfg.batch_size,), device=device, generator=gen)
        if on_step:
            on_step(step, opt)
        loss = optimizer_step(cfg, opt, params, loss_fn, rows)
        save_now = step % cfg.ckpt_interval == 0 and step < steps
        if step % cfg.log_interval == 0 or step == steps or save_now:
            loss_v = loss.item()  # the only host-device sync of the loop
            if not math.isfinite(loss_v):
                sys.exit(f'error: {name} loss is {loss_v} at step {step}; nothing was saved from this step on. '
                         f'Try a lower --{lr_flag} (now {cfg.learning_rate}) or --grad_clip')
            dt = (time.time() - t_log) / (step - last)
            mfu = f' mfu {100 * work / dt / cfg.peak_flops:4.1f}%' if cfg.peak_flops else ''
            print(f'{name:8s} step {step:5d}/{steps} loss {loss_v:.4f} {1000 * dt:6.1f} ms/step '
                  f'{tokens / dt:9.0f} tok/s{mfu}{flops.time_left(name, step, steps, work, dt)}', flush=True)
            t_log, last = time.time(), step
        if save_now:
            save(cfg, D, name, models, step=step, optimizer=opt.state_dict(), seconds=seconds + time.time() - t0,
                 rng=[gen.get_state(), torch.get_rng_state()])
        if cfg.eval_interval and step % cfg.eval_interval == 0 and (step < steps or cfg.valid_file):
            for m in models.values():
                m.eval()
            validate(cfg, D, name, models, evaluate, step) if cfg.valid_file else evaluate()
            for m in models.values():
                m.train()
    for m in models.values():
        m.eval()
    if cfg.valid_file:
        if not cfg.eval_interval or steps % cfg.eval_interval:
            validate(cfg, D, name, models, evaluate, steps)  # the last step is a candidate too
        best = checkpoint(cfg, D, name + '.best')
        restore(ckpt_path(cfg, name + '.best'), models, best['models'])
        print(f'{name}: keeping step {best["step"]}, the best on {cfg.valid_file} ({best["score"]:.4f})')
    seconds += time.time() - t0
    result = evaluate()
    save(cfg, D, name, keep or models, done=True, result=dict(result, **extra, train_seconds=seconds,
                                                           final_loss=loss_v, steps=steps))


def optimizer_step(cfg, opt, params, loss_fn, rows):
    """One step on the training examples `rows`: forward under autocast, backward, clipping, AdamW."""
    if cfg.compile == 'graphs':
        torch.compiler.cudagraph_mark_step_begin()  # last step's outputs may be overwritten now
    with autocast(rows.device):
        loss = loss_fn(rows)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    opt.step()
    return loss


def lr_at(cfg, step, steps):
    """Linear warmup, then constant or a cosine decay to 0 at the stage's last step."""
    warm = min(1.0, step / max(cfg.warmup_steps, 1))
    if not cfg.decay_lr:
        return cfg.learning_rate * warm
    return cfg.learning_rate * warm * 0.5 * (1 + math.cos(math.pi * step / steps))


# ----------------------------------------------------------------------------- evaluation

def generators(cfg, D, models):
    """How each way of answering turns a prompt into tokens. With --compile=graphs on a GPU each
    one is recorded as a CUDA graph (graphed), so none stops early: answers are read up to their
    eos either way."""
    eos = None if cfg.compile == 'graphs' else D.vocab.eos  # on any device, so the CPU tests it
    n_nocot = D.T['nocot'] - D.T['input'] + 1
    n_cot = D.T['cot'] - D.T['input'] + 1
    nocot, g = D.test['nocot'], {}
    if 'nocot' in models:
        g['nocot'] = lambda P, rows: models['nocot'].generate(P, n_nocot, stop_token=eos)
    if 'teacher' in models:
        g['explicit'] = lambda P, rows: models['teacher'].generate(P, n_cot, stop_token=eos, stops=2)
    if 'internalize' in models:  # its CoT is gone: it writes the eos that ended it, then the answer
        g['internalized'] = lambda P, rows: models['internalize'].generate(P, n_cot, stop_token=eos, stops=2)
    if 'teacher' in models and 'student' in models:
        def mindread(P, rows):
            z, _ = teacher_states(cfg, D, models['teacher'], rows, 'test')
            return models['student'].generate(P, nocot.sep1[rows], z, n_nocot, eos)
        g['mindread'] = mindread
    if 'emulator' in models and 'student' in models:
        def implicit(P, rows):  # .forward: the emulator uncompiled, as every other pass here
            zh, _ = models['emulator'].forward(P, nocot.sep1[rows], mode='argmax')
            return models['student'].generate(P, nocot.sep1[rows], zh, n_nocot, eos)
        g['implicit'] = implicit
    return {k: speed.graphed(f) for k, f in g.items()} if eos is None and D.device.type == 'cuda' else g


# ----------------------------------------------------------------------------- stages

def stage_nocot(cfg, D):
    """The no-CoT baseline: a GPT trained on ` {input} {eos} #### {answer} {eos}`, once for
    nocot_steps (the per-stage budget) and, with nocot_full, once more from scratch on the
    training FLOPs of the whole pipeline, so neither comparison flatters implicit CoT."""
    per_example = flops.costs(cfg, D, make)['nocot'][1]
    tr = D.train['nocot']
    for name, steps in flops.nocot_runs(cfg, D, make):
        if finished(cfg, D, name):
            continue
        model = start(cfg, D, 'nocot', cfg.seed)
        evaluate = lambda: accuracy(cfg, D, name, generators(cfg, D, {'nocot': model})['nocot'])
        train(cfg, D, name, {'nocot': model}, lambda r: model(tr.idx[r], tr.labels[r])[1], steps, evaluate,
              flops=per_example * cfg.batch_size * steps)


def stage_teacher(cfg, D):
    if finished(cfg, D, 'teacher'):
        return
    model = start(cfg, D, 'teacher', cfg.seed + 1)
    models = {'teacher': model}  # + the recall heads, trained with it and dropped when it is done
    if cfg.recall + cfg.recall_own + cfg.recall_ahead:
        models['recall'] = recall_heads(cfg.n_embd, len(D.vocab), cfg.recall, cfg.recall_own, cfg.recall_ahead).to(D.device)
    tr = D.train['cot']

    def loss_fn(r):
        _, loss, hiddens = model(tr.idx[r], tr.labels[r])
        if 'recall' in models:
            loss = loss + cfg.recall_weight * recall_loss(models['recall'], hiddens, tr.idx[r], tr.sep1[r], tr.sep2[r],
                                                          cfg.subset, cfg.stride, cfg.recall_ahead, cfg.recall_own)
        return loss
    evaluate = lambda: accuracy(cfg, D, 'teacher', generators(cfg, D, {'teacher': model})['explicit'])
    train(cfg, D, 'teacher', models, loss_fn, cfg.teacher_steps, evaluate, keep={'teacher': model})


def from_teacher(cfg, D, kind, teacher, seed):
    """A fresh student or emulator; with init_from_teacher its GPT starts as the teacher's, its MLPs random."""
    model = start(cfg, D, kind, seed)
    if cfg.init_from_teacher:
        model.gpt.load_state_dict(teacher.state_dict())
    return model


def teacher_states(cfg, D, teacher, r, split='train'):
    cot = (D.train if split == 'train' else D.test)['cot']
    return extract_states(teacher, cot.idx[r], cot.sep1[r], cot.sep2[r], cfg.subset, cfg.stride)


def teacher_reader(cfg, D, teacher):
    """rows -> (z, t) of training examples, cached once per stage with cache_states."""
    if not cfg.cache_states:
        return lambda r: teacher_states(cfg, D, teacher, r)
    with autocast(D.device):  # as in the training step, so cached and live states are the same
        try:
            return cached_states(teacher, D.train['cot'], cfg.subset, cfg.stride, cfg.eval_batch_size)
        except MemoryError as e:
            sys.exit(f'error: {e}; run with --cache_states=false')


def stage_student(cfg, D):
    """Mind-reading: the student answers from the teacher's diagonal states, teacher frozen."""
    if finished(cfg, D, 'student'):
        return
    teacher = load(cfg, D, 'teacher')[0]['teacher'].requires_grad_(False)
    student = from_teacher(cfg, D, 'student', teacher, cfg.seed + 2)
    tr, cot, states = D.train['nocot'], D.train['cot'], teacher_reader(cfg, D, teacher)

    def loss_fn(r):
        _, loss, hiddens = student(tr.idx[r], tr.sep1[r], states(r)[0], tr.labels[r])
        if cfg.answer_match:  # the teacher's forward, every step: its answer streams are not cached
            with torch.no_grad():
                teacher_h = teacher(cot.idx[r])[2]
            loss = loss + cfg.answer_match * answer_match_loss(hiddens, teacher_h, tr.sep1[r], cot.sep2[r],
                                                               tr.lengths[r], D.T['answer'])
        return loss
    evaluate = lambda: accuracy(cfg, D, 'student', generators(cfg, D, {'teacher': teacher, 'student': student})['mindread'])
    train(cfg, D, 'student', {'student': student}, loss_fn, cfg.student_steps, evaluate)


def stage_emulator(cfg, D):
    """Thought emulation: predict the teacher's states from the input alone."""
    if finished(cfg, D, 'emulator'):
        return
    models = {**load(cfg, D, 'teacher')[0], **load(cfg, D, 'student')[0]}
    teacher = models['teacher'].requires_grad_(False)
    emulator = from_teacher(cfg, D, 'emulator', teacher, cfg.seed + 3)
    tr, P, states = D.train['nocot'], D.T['input'], teacher_reader(cfg, D, teacher)

    def loss_fn(r):
        z, t = states(r)
        tokens = D.train['cot'].idx[r].gather(1, t)  # (B, L) the CoT token each layer reads
        return emulator(tr.idx[r, :P], tr.sep1[r], z, tokens, mode='train')[1]

    def evaluate():
        fvu = emulator_fvu(cfg, D, teacher, emulator)
        print(f'emulator FVU per layer {fmt(fvu)}')
        acc = accuracy(cfg, D, 'implicit', generators(cfg, D, {**models, 'emulator': emulator})['implicit'])
        return dict(fvu=fvu, accuracy_before_coupling=acc['accuracy'], digits_before_coupling=acc['digits'])
    train(cfg, D, 'emulator', {'emulator': emulator}, loss_fn, cfg.emulator_steps, evaluate)


@torch.no_grad()
def emulator_fvu(cfg, D, teacher, emulator):
    """Fraction of the variance of each layer's z (test set) that zh leaves unexplained."""
    r = torch.arange(len(D.test['nocot']), device=D.device)
    z, _ = teacher_states(cfg, D, teacher, r, 'test')
    te = D.test['nocot']
    with autocast(D.device):
        zh, _ = emulator(te.idx[r, :D.T['input']], te.sep1[r], mode='argmax')
    return fvu(zh, z)


def stage_couple(cfg, D):
    """Couple and optimize: emulator -> student, trained together on the answer alone."""
    if finished(cfg, D, 'couple'):
        return
    student = load(cfg, D, 'student')[0]['student']
    emulator = load(cfg, D, 'emulator')[0]['emulator']
    emulator.requires_grad_(not cfg.freeze_emulator)
    tr, P = D.train['nocot'], D.T['input']

    def loss_fn(r):
        # a soft mixture choice keeps gradients flowing into the emulator's component scores
        ### BEGIN SOLUTION coupling
        zh, _ = emulator(tr.idx[r, :P], tr.sep1[r], mode='soft')
        return student(tr.idx[r], tr.sep1[r], zh, tr.labels[r])[1]
        ### END SOLUTION
    evaluate = lambda: accuracy(cfg, D, 'implicit', generators(cfg, D, {'student': student, 'emulator': emulator})['implicit'])
    models = {'student': student, 'emulator': emulator}  # a frozen emulator has nothing to train
    lr = cfg.couple_learning_rate or cfg.learning_rate
    train(replace(cfg, learning_rate=lr), D, 'couple', models, loss_fn, cfg.couple_steps, evaluate,
          lr_flag='couple_learning_rate')


def stage_internalize(cfg, D):
    """Stepwise internalization (Deng et al. 2024): the teacher trained on, on the cot layout with
    its first k CoT tokens removed (plus o more, removal smoothing), k growing by internalize_delta
    tokens an epoch until none is left; then it answers from ` {input} {eos}` at once."""
    if finished(cfg, D, 'internalize'):
        return
    model = load(cfg, D, 'teacher')[0]['teacher']
    tr = D.train['cot']
    per_token = max(1, round(len(tr) / cfg.batch_size / cfg.internalize_delta))  # steps between removals
    longest = int((tr.sep2 - tr.sep1 - 1).max())  # CoT tokens of the longest row: then all are gone
    P, now = removal_smoothing(cfg.internalize_lambda), {}

    def on_step(step, opt):
        now['step'], now['k'] = step, removed_at(step, per_token)
        if cfg.internalize_reset and resets_at(step, per_token, longest):
            opt.state.clear()  # fresh moments and step counts: a new AdamW
    def loss_fn(r):
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + now['step'])  # a resumed run draws alike
        o = torch.multinomial(P, len(r), replacement=True, generator=g).to(D.device)
        idx, labels = remove_cot(tr.idx[r], tr.lengths[r], tr.sep1[r], tr.sep2[r], now['k'] + o, D.vocab.eos)
        return model(idx, labels)[1]
    evaluate = lambda: accuracy(cfg, D, 'internalized', generators(cfg, D, {'internalize': model})['internalized'])
    lr = cfg.internalize_learning_rate or cfg.learning_rate
    train(replace(cfg, learning_rate=lr), D, 'internalize', {'internalize': model}, loss_fn, cfg.internalize_steps,
          evaluate, lr_flag='internalize_learning_rate', on_step=on_step, steps_per_token=per_token)


def main(argv):
    t_start = time.time()
    cfg = parse_config(argv)
    if cfg.stage in ('eval', 'ask'):  # the training flags, from the folder's teacher.pt
        cfg = parse_config(argv, base=checkpoints.trained_config(cfg))
    device = config.pick_device(cfg)
    try:
        D = data.Data(cfg, device)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    os.makedirs(cfg.out_dir, exist_ok=True)
    run = dict(nocot=stage_nocot, teacher=stage_teacher, student=stage_student, emulator=stage_emulator,
               couple=stage_couple, internalize=stage_internalize, eval=lambda c, d: report.run(sys.modules[__name__], c, d, t_start),
               ablate=lambda c, d: ablate.run(sys.modules[__name__], c, d), ask=lambda c, d: ask.ask(sys.modules[__name__], c, d))
    stages = tuple(s for s in STAGES if s != 'internalize' or cfg.internalize) if cfg.stage == 'all' else (cfg.stage,)
    flops.PLAN[:] = flops.plan(cfg, D, stages, make, lambda name: (checkpoint(cfg, D, name) or {}).get('done'))
    for stage in stages:
        print(f'--- stage {stage}', flush=True)
        run[stage](cfg, D)


if __name__ == '__main__':
    main(sys.argv[1:])
