"""Append one run's report to the results log (docs/results.jsonl), with the commit it ran.

    python tools/log_result.py out/report.json [--note="what the run asked"]
    python tools/log_result.py DIR/STAGE.pt --command="python train.py ..." [--log=FILE] [--note=...] [--commit=C]
    python tools/log_result.py DIR/probe_emulator.json --command="python tools/probe_emulator.py ..." [...]

The second form logs a run of one stage from its finished checkpoint (its result and config),
with the accuracy at each evaluation read from the stage's printed output (--log); --commit: the
commit it ran at, when not this checkout's.
One JSON object a line, never rewritten: the README and docs/ quote these lines.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG = os.path.join(ROOT, 'docs', 'results.jsonl')


def commit():
    git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git('rev-parse', '--short', 'HEAD') + ('+dirty' if git('status', '--porcelain', '-uno', '--', '.', ':!docs/results.jsonl') else '')


def entry(report, note=''):
    """The fields a reader compares: what ran, where, and every stage's accuracy, digits, FVU."""
    cfg, stages = report['config'], report['stages']
    return dict(commit=commit(),
                command=report.get('command', ''), seed=cfg['seed'], task=cfg['task'], test=report['test'],
                device=report['device'], wall_seconds=round(report['wall_seconds']), note=note,
                results={k: {f: v for f, v in r.items() if f in ('accuracy', 'digits', 'train_seconds', 'train_flops', 'ex_per_s_bs1')}
                         for k, r in report['results'].items()},
                student=stages['student'].get('accuracy'), student_digits=stages['student'].get('digits'),
                before_coupling=stages['emulator'].get('accuracy_before_coupling'),
                fvu=stages['emulator'].get('fvu'),
                steps={k: s.get('steps') for k, s in stages.items()})


def stage_entry(path, command, log='', note='', ran_at=''):
    """One stage's run: its checkpoint's result, the config keys that say what ran, and the
    accuracy at each evaluation printed in `log` (a file of the run's output)."""
    import torch
    state = torch.load(path, map_location='cpu', weights_only=True)
    if not state.get('done'):
        sys.exit(f'error: {path} is not a finished stage')
    cfg, result = state['config'], state['result']
    history = []
    if log:
        with open(log) as f:
            history = [float(m) for m in re.findall(r'accuracy ([0-9.]+) on', f.read())]
    return dict(commit=ran_at or commit(), command=command, seed=cfg['seed'], task=cfg['task'],
                stage=os.path.basename(path).removesuffix('.pt'), shape=[cfg['n_layer'], cfg['n_embd']],
                note=note, accuracy_at_each_eval=history,
                **{k: v for k, v in result.items() if k in ('accuracy', 'digits', 'fvu', 'accuracy_before_coupling',
                                                             'digits_before_coupling', 'train_seconds', 'steps')})


def main(argv):
    if not argv or not os.path.isfile(argv[0]):
        sys.exit(f'usage: python tools/log_result.py OUT_DIR/report.json|DIR/STAGE.pt [--note=TEXT] (got {argv})')
    flag = lambda k: next((a.split('=', 1)[1] for a in argv[1:] if a.startswith(f'--{k}=')), '')
    if argv[0].endswith('.pt'):
        line = json.dumps(stage_entry(argv[0], flag('command'), flag('log'), flag('note'), flag('commit')))
    elif argv[0].endswith('probe_emulator.json'):  # tools/probe_emulator.py's output, as it wrote it
        with open(argv[0]) as f:
            line = json.dumps(dict(commit=flag('commit') or commit(), command=flag('command'), note=flag('note'),
                                   probe_emulator=json.load(f)))
    else:
        with open(argv[0]) as f:
            line = json.dumps(entry(json.load(f), flag('note')))
    with open(LOG, 'a') as f:
        f.write(line + '\n')
    print(line)


if __name__ == '__main__':
    main(sys.argv[1:])
