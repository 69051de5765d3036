"""How fast implicit CoT can answer, task by task: examples/s at batch 1 of no-CoT, explicit CoT
and implicit CoT (emulator + student) at each multiplication task's real token counts.

    python tools/bench_decode.py                 # 2x2 to 5x5 on the CPU (about 2 minutes, 2 cores)
    python tools/bench_decode.py --device=cuda
    python tools/bench_decode.py --device=cuda --graphs   # each answer replayed as one CUDA graph

Speed does not depend on what the weights have learned, only on how many tokens each way of
answering writes, so the models here are untrained and every answer is forced to the task's
full length: no-CoT and implicit CoT write the answer, explicit CoT the CoT and then the answer.
The three take turns example by example (tools/speed.py), as in a pipeline's eval stage.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402
import data  # noqa: E402
from tools import evaluate, speed  # noqa: E402

SHAPES = (('mult2x2', 8, 64, 4), ('mult3x3', 12, 64, 4), ('mult4x4', 12, 256, 8), ('mult5x5', 12, 256, 8))


def measure(task, n_layer, n_embd, n_head, examples=30, device='cpu', graphs=False):
    """{'tokens': {method: tokens written}, 'bs1': {method: ex/s}} for one task and model shape."""
    cfg = train.parse_config([f'--task={task}', f'--n_layer={n_layer}', f'--n_embd={n_embd}', f'--n_head={n_head}',
                              '--train_size=300', f'--test_size={examples}', f'--speed_examples={examples}',
                              f'--eval_batch_size={examples}', f'--device={device}'])
    D = data.Data(cfg, torch.device(device))
    torch.manual_seed(0)
    m = {kind: train.make(cfg, D, kind).to(D.device).eval() for kind in ('nocot', 'teacher', 'student', 'emulator')}
    # what follows the prompt ` {input} {eos}`: ` #### {answer} {eos}`, or the CoT and its eos first
    tokens = dict(nocot=D.T['nocot'] - D.T['input'], explicit=D.T['cot'] - D.T['input'])
    tokens['implicit'] = tokens['nocot']
    sep1 = D.test['nocot'].sep1

    def implicit(P, rows):
        zh, _ = m['emulator'](P, sep1[rows], mode='argmax')
        return m['student'].generate(P, sep1[rows], zh, tokens['implicit'])
    gens = dict(nocot=lambda P, rows: m['nocot'].generate(P, tokens['nocot']),
                explicit=lambda P, rows: m['teacher'].generate(P, tokens['explicit']), implicit=implicit)
    if graphs:
        gens = {name: speed.graphed(generate) for name, generate in gens.items()}
    for generate in gens.values():  # warm-up
        evaluate.answers(cfg, D, generate)
    return dict(tokens=tokens, bs1={name: bs1 for name, (bs1, _) in speed.speeds(cfg, D, gens).items()})


def main(argv):
    device = next((a.split('=', 1)[1] for a in argv if a.startswith('--device=')), 'cpu')
    graphs = '--graphs' in argv
    print(f'device: {train.device_name(torch.device(device))}{", CUDA graphs" if graphs else ", eager"}')
    print('| task | layers x width | tokens: no-CoT / explicit | ex/s bs1: no-CoT / explicit / implicit '
          '| implicit / explicit | implicit / no-CoT |\n|---|---|---|---|---|---|')
    for task, L, C, H in SHAPES:
        r = measure(task, L, C, H, device=device, graphs=graphs)
        s, t = r['bs1'], r['tokens']
        print(f'| {task} | {L} x {C} | {t["nocot"]} / {t["explicit"]} | {s["nocot"]:.1f} / {s["explicit"]:.1f} / '
              f'{s["implicit"]:.1f} | {s["implicit"] / s["explicit"]:.2f}x | {s["implicit"] / s["nocot"]:.2f}x |', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
