import torch
import torch.nn.functional as F

from gpt import GPT, GPTConfig
from teacher import (diagonal_positions, extract_states, grid_cells, recall_loss, recall_targets, removal_smoothing,
                     remove_cot, removed_at, resets_at)
import data
from conftest import needs


@needs('diagonal')
def test_diagonal_of_the_4x4_example():
    t = diagonal_positions(torch.tensor([10]), torch.tensor([58]), 12)
    assert t.tolist() == [[10, 14, 19, 23, 27, 32, 36, 41, 45, 49, 54, 58]]


@needs('diagonal')
def test_each_row_has_its_own_spacing():
    sep1, sep2 = torch.tensor([10, 10, 5]), torch.tensor([58, 22, 6])
    t = diagonal_positions(sep1, sep2, 4)
    assert t.tolist() == [[10, 26, 42, 58], [10, 14, 18, 22], [5, 5, 6, 6]]
    assert (t[:, 0] == sep1).all() and (t[:, -1] == sep2).all()


@needs('diagonal')
def test_grid_subsets_and_stride():
    sep1, sep2 = torch.tensor([3, 4]), torch.tensor([9, 16])
    diag, layers = grid_cells(sep1, sep2, 4)
    assert layers == [0, 1, 2, 3] and diag.tolist() == [[3, 5, 7, 9], [4, 8, 12, 16]]
    t, layers = grid_cells(sep1, sep2, 4, 'first_column')
    assert t.tolist() == [[3] * 4, [4] * 4] and layers == [0, 1, 2, 3]
    t, layers = grid_cells(sep1, sep2, 4, 'last_column')
    assert t.tolist() == [[9] * 4, [16] * 4] and layers == [0, 1, 2, 3]
    t, layers = grid_cells(sep1, sep2, 4, 'top_row')
    assert torch.equal(t, diag) and layers == [3, 3, 3, 3]
    t, layers = grid_cells(sep1, sep2, 4, 'bottom_row')
    assert torch.equal(t, diag) and layers == [0, 0, 0, 0]
    t, layers = grid_cells(sep1, sep2, 4, stride=3)
    assert t.tolist() == [[3, 6, 9, 9], [4, 7, 10, 13]]  # clamped to sep2


@needs('attention', 'hook', 'diagonal')
def test_extract_states_reads_the_stream_entering_each_block():
    torch.manual_seed(0)
    teacher = GPT(GPTConfig(n_layer=3, n_head=2, n_embd=8, block_size=20, vocab_size=9)).eval()
    idx = torch.randint(9, (2, 12))
    sep1, sep2 = torch.tensor([2, 3]), torch.tensor([10, 7])
    for subset in ('diagonal', 'top_row', 'last_column'):
        z, t = extract_states(teacher, idx, sep1, sep2, subset)
        _, layers = grid_cells(sep1, sep2, 3, subset)
        hiddens = teacher(idx)[2]
        assert z.shape == (2, 3, 8) and not z.requires_grad
        for b in range(2):
            for l in range(3):
                ref = F.layer_norm(hiddens[layers[l]][b, t[b, l]], (8,))
                torch.testing.assert_close(z[b, l], ref)
    torch.testing.assert_close(z.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)  # no learned scale or bias


@needs('diagonal')
def test_picture_marks_each_read_position_and_draws_fvu_bars():
    from tools.report import picture
    pieces = ['<eos>', '6', '1', '5', '+', '0', '6', '8', '0', '_', '<eos>']
    t, layers = grid_cells(torch.tensor([0]), torch.tensor([10]), 4)
    text = picture(pieces, t[0].tolist(), layers, fvu=[None, 0.5, 0.1, 1.7], width=10)
    row, marks = text.splitlines()[:2]
    assert t[0].tolist() == [0, 3, 7, 10]
    for l, p in enumerate(t[0].tolist()):  # each label sits in its token's column
        start = marks.index(f'L{l}')
        assert row[start:].startswith(pieces[p]) and (start == 0 or row[start - 1] == ' ')
        assert len(row[:start].split()) == p  # exactly p tokens before it
    bars = text.splitlines()[2:]
    assert bars[0] == 'L0  -' and bars[1].count('#') == 5 and bars[2].count('#') == 1 and bars[3].count('#') == 10


def test_recall_targets_are_the_tokens_between_cells():
    idx = torch.arange(100, 112)[None]                      # token at position p: 100 + p
    t = torch.tensor([[2, 6, 7, 10]])                       # cells; sep1 = 2 is layer 0's
    # between cells 2 and 6: 3, 4 and 5 to recall; 7 follows 6 at once; 8 and 9 before 10
    want = [[-1, -1, -1], [105, 104, 103], [-1, -1, -1], [109, 108, -1]]
    assert recall_targets(idx, torch.tensor([2]), t, 3).tolist() == [want]
    # ahead: one more column, the token after each cell; none after the last position (11)
    ahead = recall_targets(idx, torch.tensor([2]), torch.tensor([[2, 6, 11]]), 1, ahead=True)
    assert ahead.tolist() == [[[-1, 103], [105, 107], [110, -1]]]
    # own: a column for each cell's own token, before the one after
    both = recall_targets(idx, torch.tensor([2]), torch.tensor([[2, 6, 11]]), 1, ahead=True, own=True)
    assert both.tolist() == [[[-1, 102, 103], [105, 106, 107], [110, 111, -1]]]


@needs('diagonal')
def test_recall_loss_trains_the_cells_and_has_no_nan_without_gaps():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(n_layer=4, n_head=2, n_embd=16, block_size=32, vocab_size=12))
    heads = torch.nn.ModuleList(torch.nn.Linear(16, 12) for _ in range(2))
    idx = torch.randint(12, (3, 20))
    sep1, sep2 = torch.tensor([3, 3, 4]), torch.tensor([15, 12, 19])
    _, hiddens = gpt.body(idx)
    loss = recall_loss(heads, hiddens, idx, sep1, sep2)
    loss.backward()
    assert loss.item() > 1.0                                # about log(12) at the start
    assert gpt.transformer.h[0].attn.c_attn.weight.grad.abs().sum() > 0  # it reaches the teacher
    _, hiddens = gpt.body(idx)
    assert recall_loss(heads, hiddens, idx, sep1, sep2, subset='first_column').item() == 0.0


# ----------------------------------------------------------------------------- stepwise internalization

def test_removal_schedule_and_its_resets():
    assert [removed_at(s, 3) for s in range(1, 9)] == [0, 0, 0, 1, 1, 1, 2, 2]  # one more token every 3 steps
    # the optimizer starts afresh where k grows (steps 4, 7), and no more once the longest CoT (2) is gone
    assert [s for s in range(2, 20) if resets_at(s, 3, 2)] == [4, 7]


def test_removal_smoothing_is_the_papers_distribution():
    p = removal_smoothing(4.0)
    assert p.shape == (100,) and abs(float(p.sum()) - 1) < 1e-6 and (p >= 0).all()
    assert abs(float(p[0]) - (1 - torch.exp(torch.tensor(-4.0)))) < 1e-6     # P(0) = 1 - e^-lambda
    assert abs(float(p[1] / p[0]) - float(torch.exp(torch.tensor(-4.0)))) < 1e-6  # P(o + 1) / P(o) = e^-lambda
    assert torch.equal(removal_smoothing(float('inf')), torch.eye(100)[0])   # off: never an extra token


def test_remove_cot_keeps_sep2_and_the_loss_on_what_follows():
    ex = data.parse_line(data.multiplication_line(52, 86))               # CoT: 2 1 3 + 0 6 1 4
    vocab = data.Vocab(torch.tensor(data.layout_ids(ex, 'cot')))
    t = data.tokenize(data.encode([ex]), vocab)['cot']
    ids = lambda text: torch.tensor([vocab.encode(data.encoding().encode(text, allowed_special={data.EOS}))])
    for r, cot in [(0, ' 2 1 3 + 0 6 1 4 '), (3, ' + 0 6 1 4 '), (9, ''), (50, '')]:
        idx, labels = remove_cot(t.idx, t.lengths, t.sep1, t.sep2, torch.tensor([r]), vocab.eos)
        want = ids(f' 2 5 * 6 8 {data.EOS}{cot}{data.EOS} #### 2 7 4 4 {data.EOS}')
        n = want.size(1)
        assert torch.equal(idx, want), r                                 # no padding left: one row
        # every position from sep1 on predicts the next kept token; nothing past the row's end
        assert torch.equal(labels[0, 6:n - 1], want[0, 7:n]) and (labels[0, :6] == -1).all() and (labels[0, n - 1:] == -1).all()


def test_remove_cot_pads_to_the_longest_row_left():
    ex = data.parse_line(data.multiplication_line(52, 86))               # 8 CoT tokens, 20 in all
    vocab = data.Vocab(torch.tensor(data.layout_ids(ex, 'cot')))
    t = data.tokenize(data.encode([ex, ex]), vocab)['cot']
    idx, labels = remove_cot(t.idx, t.lengths, t.sep1, t.sep2, torch.tensor([2, 5]), vocab.eos)
    n = int(t.lengths[0])
    assert idx.shape == (2, n - 2)                                       # the row that lost 2 sets the width
    assert (idx[1, n - 5:] == vocab.eos).all() and (labels[1, n - 6:] == -1).all()
    assert (labels[0, :n - 3] != -1).sum() == n - 3 - int(t.sep1[0])     # row 0: nothing cut off
