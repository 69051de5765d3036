"""Checkpoints: one file per stage in out_dir, written atomically, each describing itself (the
config it was trained with and the vocabulary), refused with one line when it does not fit."""
import os
import sys
from dataclasses import asdict

import torch

# the config keys that say what every model of a checkpoint is: another value cannot load them
# (mixture and use_lstm shape the emulator alone; load_state_dict names those)
SHAPE = ('task', 'train_file', 'n_layer', 'n_head', 'n_embd', 'init_from')
# what --stage=eval and ask take from a folder's checkpoints unless given: how the models were trained
TRAINED = ('task', 'train_size', 'test_size', 'train_file', 'test_file', 'seed', 'n_layer', 'n_head', 'n_embd',
           'subset', 'stride', 'mixture', 'use_lstm', 'init_from', 'nocot_full', 'batch_size') + tuple(
           f'{s}_steps' for s in ('nocot', 'teacher', 'student', 'emulator', 'couple'))


def ckpt_path(cfg, name):
    return os.path.join(cfg.out_dir, f'{name}.pt')


def trained_config(cfg):
    """The TRAINED keys of out_dir/teacher.pt's config ({} without a readable one)."""
    try:
        saved = torch.load(ckpt_path(cfg, 'teacher'), map_location='cpu', weights_only=True)['config']
    except Exception:  # missing or damaged: checkpoint() names the damage when a stage reads it
        return {}
    return {k: v for k, v in saved.items() if k in TRAINED}


def save(cfg, D, name, models, **fields):
    """Atomically (write, then rename): a kill mid-write leaves the previous file whole. A finished
    stage has done=True and its result; a mid-stage one its step, optimizer and RNG."""
    os.makedirs(cfg.out_dir, exist_ok=True)
    path = ckpt_path(cfg, name)
    state = {'done': False, 'config': asdict(cfg), 'vocab': D.vocab.ids,
             'models': {k: m.state_dict() for k, m in models.items()}, **fields}
    torch.save(state, path + '.tmp')
    os.replace(path + '.tmp', path)


def checkpoint(cfg, D, name):
    """The checkpoint NAME.pt as saved, or None; a file that cannot be read (truncated, not a
    checkpoint) or that does not fit this config stops the run, leaving the file as it is."""
    path = ckpt_path(cfg, name)
    if not os.path.isfile(path):
        return None
    try:
        state = torch.load(path, map_location=D.device, weights_only=True)
    except Exception as e:  # torch raises several kinds for a damaged file
        sys.exit(f'error: {path} is not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:100]}); '
                 f'delete it to train that stage again')
    if not isinstance(state, dict) or 'models' not in state or 'done' not in state:
        sys.exit(f'error: {path} is not a checkpoint of train.py; delete it to train that stage again')
    saved = state.get('config', {})
    differ = [k for k in SHAPE if k in saved and saved[k] != getattr(cfg, k)]
    if differ:
        sys.exit(f'error: {path} does not fit this config: it was trained with '
                 f'{", ".join(f"{k}={saved[k]!r}" for k in differ)}, this run has '
                 f'{", ".join(f"{k}={getattr(cfg, k)!r}" for k in differ)}; pass those flags or another --out_dir')
    if 'vocab' in state and state['vocab'] != D.vocab.ids:
        sys.exit(f'error: {path} does not fit this config: its vocabulary ({len(state["vocab"] or ())} tokens) is '
                 f'not this data\'s ({len(D.vocab)}); run with the data it was trained on')
    return state


def finished(cfg, D, name):
    """A stage that finished earlier is never trained again (and its file never overwritten)."""
    state = checkpoint(cfg, D, name)
    if state is not None and state['done']:
        print(f'{name}: finished earlier ({ckpt_path(cfg, name)}), skipped; delete it to train again')
        return True
    return False


def restore(path, models, states):
    for k, m in models.items():
        try:
            m.load_state_dict(states[k])
        except RuntimeError as e:
            sys.exit(f'error: {path} does not fit this config ({str(e).splitlines()[0]}...)')


def load(cfg, D, name, make):
    """(models, result) of a finished stage, each model built by make(kind); a missing one names
    the command that makes it."""
    path, state = ckpt_path(cfg, name), checkpoint(cfg, D, name)
    if state is None or not state['done']:
        args = [a for a in sys.argv[1:] if not a.startswith('--stage=')]
        sys.exit(f'error: {path} is {"missing" if state is None else "unfinished"}; make it first with: '
                 f'python train.py {" ".join(args + ["--stage=" + name.removesuffix("_full")])}')
    models = {k: make(k).to(D.device) for k in state['models']}
    restore(path, models, state['models'])
    result = dict(state['result'], batch_size=state['config']['batch_size'])  # for the FLOPs of its steps
    return {k: m.eval() for k, m in models.items()}, result


def validate(cfg, D, name, models, evaluate, step):
    """Selection on validation: NAME.best.pt keeps the weights that have scored best so far
    (a file, so a resumed run remembers it)."""
    D.split = 'valid'
    score = evaluate()
    D.split = 'test'
    score = score.get('accuracy_before_coupling', score.get('accuracy'))
    best = checkpoint(cfg, D, name + '.best')
    if best is None or score > best['score']:
        save(cfg, D, name + '.best', models, score=score, step=step)


def resume(cfg, D, name, models, opt, gen):
    """(step, seconds) to go on from: an unfinished stage's checkpoint restored into models, opt
    and the RNGs, or (0, 0.0) and an older run's stale best removed."""
    state = checkpoint(cfg, D, name)
    if state is None:
        if os.path.exists(ckpt_path(cfg, name + '.best')):
            os.remove(ckpt_path(cfg, name + '.best'))
        return 0, 0.0
    restore(ckpt_path(cfg, name), models, state['models'])
    opt.load_state_dict(state['optimizer'])
    gen.set_state(state['rng'][0].cpu())  # RNG states live on the host, whatever map_location said
    torch.set_rng_state(state['rng'][1].cpu())
    print(f'{name}: resuming at step {state["step"]} from {ckpt_path(cfg, name)}')
    return state['step'], state['seconds']
