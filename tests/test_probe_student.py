import torch

import probe_student
import train
import data
from conftest import ROOT, needs


def test_targets_split_a_digit_into_its_summands():
    # 5431 * 3918: s = 5431 * 918 = 4985658, p = 5431 * 3 * 1000 = 16293000, a * b = 21278658
    ops = torch.tensor([[5431, 3918]])
    four = {k: int(v) for k, v in probe_student.targets(ops, 4, 4).items()}
    assert four == {'s_k': 8, 'p_k': 9, 'carry in': 0, '(s_k + p_k) % 10': 7, 'digit k': 7}
    three = {k: int(v) for k, v in probe_student.targets(ops, 3, 4).items()}
    assert three == {'s_k': 5, 'p_k': 3, 'carry in': 0, '(s_k + p_k) % 10': 8, 'digit k': 8}


@needs('hook', 'diagonal', 'student_write')
def test_streams_read_the_operands_and_every_layer():
    cfg = train.parse_config([f'{ROOT}/config/smoke.py', '--task=mult3x3', '--n_layer=4'])
    D = data.Data(cfg, torch.device('cpu'))
    teacher, student = train.make(cfg, D, 'teacher').eval(), train.make(cfg, D, 'student').eval()
    H, ops = probe_student.streams(cfg, D, teacher, student, D.test['cot'], D.test['nocot'], 5)
    assert H.shape == (5, 4 + 1, D.test['nocot'].idx.size(1), cfg.n_embd)  # entering each block, and after
    assert ops.tolist() == [list(train.data.operands(e.input + '||')) for e in D.test_examples[:5]]
