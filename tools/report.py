"""Stage eval and its report (out_dir/report.md and .json), with the diagonal picture in it."""
import json
import os
import sys
import time
from dataclasses import asdict

import torch

import data
from teacher import grid_cells
from tools import flops
from tools.evaluate import accuracy
from tools.speed import speeds


def run(T, cfg, D, t_start):
    """Stage eval: accuracy and speed of no-CoT, explicit and implicit CoT (and internalization), on
    the same device, and the report. T: train.py's module (its checkpoints and generators)."""
    names = ('nocot',) + ('nocot_full',) * cfg.nocot_full + flops.PIPELINE + ('internalize',) * cfg.internalize
    loaded = {name: T.load(cfg, D, name) for name in names}  # each checkpoint read once
    stages = {name: result for name, (_, result) in loaded.items()}
    models = {k: m for name in ('nocot', 'teacher', 'couple', 'internalize') if name in loaded
              for k, m in loaded[name][0].items()}
    methods = (('nocot', 'nocot'), ('explicit', 'teacher'), ('implicit', 'couple')) + \
        (('internalized', 'internalize'),) * cfg.internalize
    every = T.generators(cfg, D, models)  # mind-reading too, which the table leaves out
    gens = {method: every[method] for method, _ in methods}
    accs = {method: accuracy(cfg, D, method, gens[method]) for method in gens}
    timing = speeds(cfg, D, gens)
    results, work = {}, flops.method_flops(cfg, D, T.make, stages)
    for method, stage in methods:
        acc, (bs1, batch) = accs[method], timing[method]
        train_s = stages[stage]['train_seconds']
        if method == 'implicit':  # implicit CoT needs the whole pipeline
            train_s = sum(stages[s]['train_seconds'] for s in flops.PIPELINE)
        if method == 'internalized':  # and internalization its teacher
            train_s += stages['teacher']['train_seconds']
        results[method] = dict(acc, ex_per_s_bs1=bs1, ex_per_s_batch=batch, train_seconds=train_s,
                               train_flops=work[method])
        print(f'{method:8s} {bs1:8.1f} ex/s at batch 1, {batch:8.1f} ex/s at batch {cfg.eval_batch_size}')
    if cfg.nocot_full:
        results['nocot_full_compute'] = dict(accuracy=stages['nocot_full']['accuracy'],
                                             train_seconds=stages['nocot_full']['train_seconds'],
                                             train_flops=work['nocot_full_compute'])
    write_report(cfg, D, results, stages, time.time() - t_start, diagonal_picture(cfg, D, stages['emulator']['fvu']))


def diagonal_picture(cfg, D, fvu):
    """Which teacher cell each layer reads, on the first test example, and the emulator's FVU."""
    cot = D.test['cot']
    s1, s2 = int(cot.sep1[0]), int(cot.sep2[0])
    t, layers = grid_cells(cot.sep1[:1], cot.sep2[:1], cfg.n_layer, cfg.subset, cfg.stride)
    pieces = [D.vocab.decode([i]).strip() or '_' for i in cot.idx[0, s1:s2 + 1].tolist()]
    pieces = ['<eos>' if p == data.EOS else p for p in pieces]
    return picture(pieces, (t[0] - s1).tolist(), layers, fvu)


def picture(pieces, t, layers, fvu=None, width=30):
    """The diagonal as text: one example's tokens from sep1 to sep2 (`pieces`, strings), under
    each the layer(s) reading it, then per layer a bar of the emulator's FVU (shorter is better).
    t: (L,) positions relative to pieces[0]; layers: the layer each l reads."""
    readers = {}
    for l, p in enumerate(t):
        readers.setdefault(int(p), []).append(f'L{layers[l]}')
    cols = [max(len(s), len(','.join(readers.get(p, [])))) + 1 for p, s in enumerate(pieces)]
    lines = [''.join(s.ljust(w) for s, w in zip(pieces, cols)).rstrip(),
             ''.join(','.join(readers.get(p, [])).ljust(w) for p, w in enumerate(cols)).rstrip()]
    for l, v in enumerate(fvu or []):
        bar = '-' if v is None else '#' * round(min(v, 1.0) * width) + '.' * (width - round(min(v, 1.0) * width))
        lines.append(f'L{l:<3d}{bar} {"" if v is None else f"{v:.2f}"}'.rstrip())
    return '\n'.join(lines)


def device_name(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)'


def write_report(cfg, D, results, stages, wall, diagonal):
    report = dict(command=' '.join(['python', 'train.py'] + sys.argv[1:]), wall_seconds=wall,
                  device=device_name(D.device), task=cfg.task,
                  test=cfg.test_file or f'{len(D.test["nocot"])} generated problems (seed {cfg.seed + 1})',
                  results=results, stages=stages, config=asdict(cfg))
    rows = [('no-CoT (same per-stage budget)', 'nocot'), ('no-CoT (whole pipeline compute)', 'nocot_full_compute'),
            ('explicit CoT (teacher)', 'explicit'), ('implicit CoT (emulator + student)', 'implicit'),
            ('implicit CoT (stepwise internalization)', 'internalized')]
    lines = [f'# {cfg.task}: {report["test"]}', '', f'device: {report["device"]}; wall time of this command {wall:.0f} s', '',
             '| method | accuracy | per digit | ex/s, batch 1 | ex/s, batch | train s | train FLOPs |',
             '|---|---|---|---|---|---|---|']
    for label, key in rows:
        if key in results:
            r = results[key]
            speed = lambda k: f'{r[k]:.1f}' if k in r else '-'
            lines.append(f'| {label} | {r["accuracy"]:.3f} | {digits(r.get("digits"))} | {speed("ex_per_s_bs1")} | '
                         f'{speed("ex_per_s_batch")} | {r["train_seconds"]:.0f} | {r.get("train_flops", 0):.1e} |')
    if not cfg.nocot_full:
        lines.append('| no-CoT (whole pipeline compute) | not trained: add --nocot_full=true | | | | | |')
    bs1 = {k: results[k]['ex_per_s_bs1'] for k in ('nocot', 'explicit', 'implicit')}
    lines += ['', f'At batch 1 implicit CoT answered {bs1["implicit"] / bs1["explicit"]:.2f}x as fast as explicit CoT '
              f'and at {bs1["implicit"] / bs1["nocot"]:.2f}x no-CoT\'s speed (measured in turns, this run). Train s and '
              'FLOPs count every stage a method needs, the teacher included (internalization: an upper bound).']
    lines += ['', f'mind-reading student (teacher states): {stages["student"]["accuracy"]:.3f} '
              f'({digits(stages["student"].get("digits"))}); emulator + student before coupling: '
              f'{stages["emulator"]["accuracy_before_coupling"]:.3f} ({digits(stages["emulator"].get("digits_before_coupling"))}); '
              f'emulator FVU per layer: {fmt(stages["emulator"]["fvu"])}', '',
              f'The {cfg.subset} read by each layer (first test example), and how much of each z the',
              'emulator leaves unexplained (FVU, shorter is better):', '', '```', diagonal, '```', '']
    publish(cfg, 'report', report, lines)


def digits(accs):
    return ' '.join(f'{a:.2f}' for a in accs) if accs else '-'


def publish(cfg, name, report, lines):
    """out_dir/NAME.json for programs and out_dir/NAME.md (also printed) for people."""
    with open(os.path.join(cfg.out_dir, f'{name}.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(cfg.out_dir, f'{name}.md'), 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))


def fmt(fvu):
    return ' '.join('-' if v is None else f'{v:.3f}' for v in fvu)
