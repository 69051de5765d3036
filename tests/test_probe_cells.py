import torch

import probe_cells
import train
import data
from conftest import ROOT, needs


def test_linear_probe_reads_what_is_there_and_only_that():
    torch.manual_seed(0)
    y, yt = torch.randint(10, (2000,)), torch.randint(10, (500,))
    code = torch.randn(10, 16)                                  # each token its own direction
    x, xt = code[y] + 0.1 * torch.randn(2000, 16), code[yt] + 0.1 * torch.randn(500, 16)
    acc, guess = probe_cells.linear_probe(x, y, xt, yt, 10)
    assert acc == 1.0 and guess < 0.2
    acc, _ = probe_cells.linear_probe(torch.randn(2000, 16), y, torch.randn(500, 16), yt, 10)
    assert acc < 0.2                                            # noise carries no token


@needs('diagonal')
def test_cells_pairs_each_state_with_the_tokens_around_its_cell():
    cfg = train.parse_config([f'{ROOT}/config/smoke.py', '--task=mult3x3', '--n_layer=4'])
    D = data.Data(cfg, torch.device('cpu'))
    teacher = train.make(cfg, D, 'teacher').eval()
    cot = D.test['cot']
    z, tok = probe_cells.cells(cfg, D, teacher, cot, 7)
    assert z.shape == (7, 4, cfg.n_embd) and tok.shape == (7, 4, len(probe_cells.OFFSETS))
    _, t = train.extract_states(teacher, cot.idx[:7], cot.sep1[:7], cot.sep2[:7])
    d0 = probe_cells.OFFSETS.index(0)
    assert torch.equal(tok[..., d0], cot.idx[:7].gather(1, t))  # d = 0: the cell's own token
    assert (tok[:, 0, :d0] == -1).all()                         # layer 0 sits on sep1: before it is the input
    assert (tok[:, -1, d0 + 1:] == -1).all()                    # the last layer on sep2: after it, the answer


def test_token_after_sep1_stops_before_sep2():  # no diagonal: it reads the data alone
    cfg = train.parse_config([f'{ROOT}/config/smoke.py', '--task=mult2x2'])
    cot = data.Data(cfg, torch.device('cpu')).test['cot']
    s1, s2 = int(cot.sep1[0]), int(cot.sep2[0])
    assert torch.equal(probe_cells.token_after_sep1(cot, 3, 1), cot.idx[:3, s1 + 1])  # the CoT's first token
    assert (probe_cells.token_after_sep1(cot, 3, s2 - s1) == -1).all()              # sep2 itself is not the CoT
