"""The paper's ablations in one table, and each option not in the paper turned off:
`python train.py CONFIG --stage=ablate` (config/ablate.py: the CPU demo's)."""
import os
import shutil
import sys
from dataclasses import asdict, replace

from tools import report

ABLATIONS = (  # (folder, row of the table, config changes, stages shared with the diagonal run)
    ('diagonal', 'diagonal (the method)', dict(subset='diagonal'), ()),
    ('first_column', 'first_column', dict(subset='first_column'), ()),
    ('last_column', 'last_column', dict(subset='last_column'), ()),
    ('top_row', 'top_row', dict(subset='top_row'), ()),
    ('bottom_row', 'bottom_row', dict(subset='bottom_row'), ()),
    ('no_lstm', 'emulator without LSTM/attention', dict(use_lstm=False), ('student',)),
    ('mixture', 'mixture on', dict(mixture=True), ('student',)),
    ('frozen', 'coupling with the emulator frozen', dict(freeze_emulator=True), ('student', 'emulator')),
)
# options not in the paper, each with what turns it off; a change to TEACHER_KEYS needs its own teacher
EXTENSIONS = dict(recall=dict(recall=0, recall_ahead=False, recall_own=False), answer_match=dict(answer_match=0.0),
                  init_from_teacher=dict(init_from_teacher=False))
TEACHER_KEYS = ('recall', 'recall_ahead', 'recall_own', 'recall_weight')


def ablations(cfg):
    """ABLATIONS, then a row for each option of EXTENSIONS that cfg turns on, turned off; only
    those named in cfg.variants when it is set (a long table can be trained in parts, side by side)."""
    rows = list(ABLATIONS) + [(f'no_{key}', f'{key} off (not in the paper)', off, ())
                              for key, off in EXTENSIONS.items() if getattr(cfg, key) != off[key]]
    chosen = [v for v in cfg.variants.split(',') if v]
    unknown = set(chosen) - {r[0] for r in rows}
    if unknown:
        sys.exit(f'error: variants {sorted(unknown)} unknown; this config has {", ".join(r[0] for r in rows)}')
    return [r for r in rows if not chosen or r[0] in chosen]


def run(T, cfg, D):
    """The paper's ablations in one table, and each option not in the paper turned off. One
    teacher (in out_dir) serves every variant but those that change it; each variant trains
    student, emulator and coupling in out_dir/FOLDER, except what it shares with the diagonal
    run: a change to the emulator keeps its student, a frozen coupling both. T: train.py's module."""
    T.stage_teacher(cfg, D)
    rows = []
    for folder, label, change, shared in ablations(cfg):
        v = replace(cfg, out_dir=os.path.join(cfg.out_dir, folder), **change)
        if set(change) & set(TEACHER_KEYS):
            T.stage_teacher(v, D)  # its own teacher, in its folder
        else:
            share(cfg.out_dir, v.out_dir, 'teacher')
        for name in shared:
            share(os.path.join(cfg.out_dir, 'diagonal'), v.out_dir, name)
        print(f'--- ablation {folder}: {change}', flush=True)
        for run in (T.stage_student, T.stage_emulator, T.stage_couple):
            run(v, D)
        r = {name: T.checkpoint(v, D, name)['result'] for name in ('student', 'emulator', 'couple')}
        fvu = [f for f in r['emulator']['fvu'] if f is not None]
        rows.append(dict(variant=folder, label=label, teacher=T.checkpoint(v, D, 'teacher')['result']['accuracy'],
                         mindread=r['student']['accuracy'],
                         fvu=sum(fvu) / len(fvu) if fvu else None, before_coupling=r['emulator']['accuracy_before_coupling'],
                         coupled=r['couple']['accuracy']))
    lines = [f'# Ablations, {cfg.task}, {cfg.n_layer} layers, width {cfg.n_embd} ({report.device_name(D.device)})', '',
             '| variant | teacher | mind-reading student | emulator FVU (mean) | no coupling | coupled (implicit CoT) |',
             '|---|---|---|---|---|---|']
    lines += [f'| {r["label"]} | {r["teacher"]:.3f} | {r["mindread"]:.3f} | {report.fmt([r["fvu"]])} | {r["before_coupling"]:.3f} | '
              f'{r["coupled"]:.3f} |' for r in rows]
    lines += ['', 'Accuracy is exact match on the test set; "no coupling" is emulator + student as the first two',
              'stages left them. Rows that share a stage with the diagonal run repeat its number there. FVU is',
              'the mean over layers whose z varies at all ("-": none does, e.g. every cell an eos embedding).', '']
    report.publish(cfg, 'ablation', dict(task=cfg.task, device=report.device_name(D.device), rows=rows, config=asdict(cfg)), lines)


def share(src_dir, dst_dir, name):
    """Reuse a finished checkpoint in another run's folder: copied once, atomically."""
    dst = os.path.join(dst_dir, f'{name}.pt')
    if not os.path.exists(dst):
        os.makedirs(dst_dir, exist_ok=True)
        shutil.copyfile(os.path.join(src_dir, f'{name}.pt'), dst + '.tmp')
        os.replace(dst + '.tmp', dst)
