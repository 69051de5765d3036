import pytest
import torch

import probe_emulator
import train
import data
from conftest import ROOT, needs


def test_three_tells_the_teachers_encoding_from_another_and_from_none():
    torch.manual_seed(0)
    y, yt = torch.randint(10, (2000,)), torch.randint(10, (500,))
    code = torch.randn(10, 16)
    x, xt = code[y] + 0.1 * torch.randn(2000, 16), code[yt] + 0.1 * torch.randn(500, 16)
    same = probe_emulator.three(x, y, x, xt, yt, xt, 10)
    assert same == [1.0, 1.0, 1.0]
    Q = torch.linalg.qr(torch.randn(16, 16))[0]                # the token, in another encoding
    z_probe, on_zh, own = probe_emulator.three(x, y, x @ Q, xt, yt, xt @ Q, 10)
    assert z_probe == 1.0 and on_zh < 0.5 and own == 1.0
    noise = probe_emulator.three(x, y, torch.randn(2000, 16), xt, yt, torch.randn(500, 16), 10)
    assert noise[0] == 1.0 and noise[1] < 0.3 and noise[2] < 0.3
    assert probe_emulator.three(x, torch.full_like(y, -1), x, xt, yt, xt, 10) is None  # no targets


@needs('attention', 'hook', 'diagonal', 'emulator_step')
def test_states_pairs_z_and_zh_with_tokens_and_answer_digits():
    cfg = train.parse_config([f'{ROOT}/config/smoke.py', '--task=mult2x2'])
    D = data.Data(cfg, torch.device('cpu'))
    teacher, emulator = train.make(cfg, D, 'teacher').eval(), train.make(cfg, D, 'emulator').eval()
    z, zh, tok, digits = probe_emulator.states(cfg, D, teacher, emulator, 'test', 5)
    assert z.shape == zh.shape == (5, cfg.n_layer, cfg.n_embd) and tok.shape[:2] == (5, cfg.n_layer)
    a, b = data.operands(D.test_examples[0].input + '||')
    assert digits.shape == (5, 4) and int(''.join(map(str, digits[0].tolist()))[::-1]) == a * b


def test_running_sum_regression_scores_what_a_linear_read_explains():
    torch.manual_seed(0)
    x, xt = torch.randn(2000, 16), torch.randn(500, 16)
    w = torch.randn(16)
    y, yt = x @ w + 3, xt @ w + 3                                  # c_hat, linear in z
    on_z = probe_emulator.regression(x, y)
    assert probe_emulator.r2(on_z, xt, yt) > 0.999
    Q = torch.linalg.qr(torch.randn(16, 16))[0]                    # the same c_hat, encoded otherwise
    assert probe_emulator.r2(on_z, xt @ Q, yt) < 0.5 < 0.999 < probe_emulator.r2(probe_emulator.regression(x @ Q, y), xt @ Q, yt)
    assert probe_emulator.r2(probe_emulator.regression(torch.randn(2000, 16), y), torch.randn(500, 16), yt) < 0.05


def test_running_sums_are_bai_et_al_c_hat_and_refuse_other_rows():
    a, b = [3719, 9999, 1000], [3349, 9999, 1000]
    exs = [data.parse_line(data.multiplication_line(x, y)) for x, y in zip(a, b)]
    enc = data.encode(exs)
    vocab = data.Vocab(enc[0])
    c = probe_emulator.running_sums(data.tokenize(enc, vocab)['nocot'], vocab, 4, 4)
    # 3719 * 3349 by hand: a = 9 1 7 3, b = 9 4 3 3; s_k = sum_{i+j=k} a_i b_j, then the carries
    s = [81, 36 + 9, 27 + 4 + 63, 27 + 3 + 28 + 27, 3 + 21 + 12, 21 + 9, 9, 0]
    assert c[0].tolist() == [81, s[1] + 8, s[2] + 5, s[3] + 9, s[4] + 9, s[5] + 4, s[6] + 3, s[7] + 1]
    assert (c % 10).tolist()[0] == [int(d) for d in exs[0].answer.split()]
    assert c[2].tolist() == [0, 0, 0, 0, 0, 0, 1, 0] and (c[1] % 10).tolist() == [1, 0, 0, 0, 8, 9, 9, 9]
    with pytest.raises(ValueError, match='mult3x3'):  # the wrong task reads the wrong tokens
        probe_emulator.running_sums(data.tokenize(enc, vocab)['nocot'], vocab, 3, 3)
