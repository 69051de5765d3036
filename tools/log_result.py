"""Append one run's report to the results log (docs/results.jsonl), with the commit it ran.

    python tools/log_result.py out/report.json [--note="what the run asked"]

One JSON object a line, never rewritten: the README and docs/ quote these lines.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG = os.path.join(ROOT, 'docs', 'results.jsonl')


def entry(report, note=''):
    """The fields a reader compares: what ran, where, and every stage's accuracy, digits, FVU."""
    git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cfg, stages = report['config'], report['stages']
    return dict(commit=git('rev-parse', '--short', 'HEAD') + ('+dirty' if git('status', '--porcelain', '-uno') else ''),
                command=report.get('command', ''), seed=cfg['seed'], task=cfg['task'], test=report['test'],
                device=report['device'], wall_seconds=round(report['wall_seconds']), note=note,
                results={k: {f: v for f, v in r.items() if f in ('accuracy', 'digits', 'train_seconds', 'ex_per_s_bs1')}
                         for k, r in report['results'].items()},
                student=stages['student'].get('accuracy'), student_digits=stages['student'].get('digits'),
                before_coupling=stages['emulator'].get('accuracy_before_coupling'),
                fvu=stages['emulator'].get('fvu'),
                steps={k: s.get('steps') for k, s in stages.items()})


def main(argv):
    if not argv or not os.path.isfile(argv[0]):
        sys.exit(f'usage: python tools/log_result.py OUT_DIR/report.json [--note=TEXT] (got {argv})')
    note = next((a.split('=', 1)[1] for a in argv[1:] if a.startswith('--note=')), '')
    with open(argv[0]) as f:
        line = json.dumps(entry(json.load(f), note))
    with open(LOG, 'a') as f:
        f.write(line + '\n')
    print(line)


if __name__ == '__main__':
    main(sys.argv[1:])
