import os

import pytest
import torch

import data
from tools import evaluate
from conftest import SHARED

DATA = os.path.join(SHARED, 'data')
OFFICIAL = ['mult4x4/valid.txt', 'mult4x4/test.txt', 'mult5x5/valid.txt', 'mult5x5/test.txt',
            'mult7x7/valid.txt', 'mult9x9/valid.txt']
EXAMPLE = ('9 1 7 3 * 9 4 3 3||1 7 4 3 3 + 0 6 7 8 4 1 ( 1 3 2 2 8 1 ) + 0 0 7 5 1 1 1 '
           '( 1 3 9 7 9 2 1 ) + 0 0 0 7 5 1 1 1 #### 1 3 9 4 5 4 2 1')


def test_design_example():
    assert data.multiplication_line(3719, 3349) == EXAMPLE
    assert data.operands(EXAMPLE) == (3719, 3349)


@pytest.mark.parametrize('name', OFFICIAL)
def test_official_files_reproduced_byte_for_byte(name):
    path = os.path.join(DATA, name)
    if not os.path.isfile(path):
        pytest.skip(f'{path} is absent (the official files live in ../shared/data)')
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert len(lines) == 1000
    for i, line in enumerate(lines, 1):
        assert data.multiplication_line(*data.operands(line)) == line, f'{name}:{i}'


def test_generator_seeded_distinct_and_excluding():
    a = data.generate_multiplication(2, 3, 500, seed=1)
    assert a == data.generate_multiplication(2, 3, 500, seed=1)
    assert a != data.generate_multiplication(2, 3, 500, seed=2)
    pairs = [data.operands(s) for s in a]
    assert len(set(pairs)) == 500
    assert all(10 <= x < 100 and 100 <= y < 1000 for x, y in pairs)
    held_out = set(pairs[:100])
    b = data.generate_multiplication(2, 3, 2000, seed=3, exclude=held_out)
    assert not held_out & {data.operands(s) for s in b}
    with pytest.raises(ValueError, match='only'):
        data.generate_multiplication(1, 1, 82, seed=0)  # 81 one-digit problems exist


def test_pairs_are_the_first_unseen_of_each_seeded_round():
    # the rule the vectorised draw follows, one pair at a time: rounds of twice what is missing
    rng, seen, want = __import__('numpy').random.default_rng(4), {(10, 100)}, []
    while len(want) < 3000:
        a = rng.integers(10, 100, size=2 * (3000 - len(want)))
        for pair in zip(a.tolist(), rng.integers(100, 1000, size=a.size).tolist()):
            if pair not in seen and len(want) < 3000:
                seen.add(pair), want.append(pair)
    a, b = data.multiplication_pairs(2, 3, 3000, seed=4, exclude={(10, 100)})
    assert list(zip(a.tolist(), b.tolist())) == want


@pytest.mark.parametrize('n,m', [(1, 1), (2, 3), (3, 2), (4, 4), (5, 5), (9, 9)])
def test_ids_without_the_tokenizer_are_the_tokenizers(n, m):
    a, b = data.multiplication_pairs(n, m, 60, seed=0)
    a[:2], b[:2] = [10 ** n - 1, 10 ** (n - 1)], [10 ** m - 1, 10 ** (m - 1)]  # all nines; zeros in b
    gpt2, lengths, answers = data.encode([data.parse_line(data.multiplication_line(x, y))
                                          for x, y in zip(a.tolist(), b.tolist())])
    fast = data.multiplication_ids(a, b, n, m)
    assert torch.equal(fast[0], gpt2) and torch.equal(fast[1], lengths) and fast[2] == answers


def test_layouts_and_seps():
    ex = data.parse_line(EXAMPLE)
    cot = data.layout_ids(ex, 'cot')
    enc = data.encoding()
    eos = [i for i, t in enumerate(cot) if t == enc.eot_token]
    assert eos == [10, 58, len(cot) - 1]
    assert cot[9] == cot[57] == cot[-2] == 220  # the lone space before each eos
    nocot = data.layout_ids(ex, 'nocot')
    assert nocot[:11] == cot[:11] and nocot[11:] == cot[59:]
    assert enc.decode(nocot) == ' 9 1 7 3 * 9 4 3 3 <|endoftext|> #### 1 3 9 4 5 4 2 1 <|endoftext|>'
    vocab = data.Vocab(cot)
    t = data.tokenize(data.encode([ex]), vocab)['cot']
    assert (t.sep1.item(), t.sep2.item()) == (10, 58)
    assert (t.labels[0, :10] == -1).all()           # input and sep1 itself are never predicted
    assert t.labels[0, 10:-1].tolist() == vocab.encode(cot[11:])  # everything after sep1 is
    assert vocab.decode(t.idx[0].tolist()) == enc.decode(cot)


def test_compact_vocab_roundtrip_and_padding():
    lines = data.generate_multiplication(2, 2, 50, seed=0) + data.generate_multiplication(3, 3, 50, seed=0)
    exs = [data.parse_line(s) for s in lines]
    vocab = data.Vocab([t for e in exs for t in data.layout_ids(e, 'cot')])
    assert len(vocab) < 30 and len(data.Vocab()) == 50257
    t = data.tokenize(data.encode(exs), vocab)['nocot']
    assert t.idx.shape == (100, int(t.lengths.max()))
    assert (t.lengths[:50] < t.lengths[50:]).all()
    short = t.idx[0, t.lengths[0]:]
    assert (short == vocab.eos).all() and (t.labels[0, t.lengths[0] - 1:] == -1).all()
    with pytest.raises(ValueError, match='compact vocabulary'):
        vocab.encode(data.encoding().encode(' hello'))


def test_batches_are_rows_of_tensors_on_the_device():
    exs = [data.parse_line(s) for s in data.generate_multiplication(2, 2, 20, seed=0)]
    t = data.tokenize(data.encode(exs), data.Vocab([t for e in exs for t in data.layout_ids(e, 'cot')]), 'cpu')
    rows = torch.randint(20, (8,), generator=torch.Generator().manual_seed(0))  # what train.py does
    idx, labels, sep1, sep2 = (x[rows] for x in (t['cot'].idx, t['cot'].labels, t['cot'].sep1, t['cot'].sep2))
    assert idx.shape == labels.shape == (8, t['cot'].idx.size(1)) and sep1.shape == sep2.shape == (8,)
    assert all(x.device.type == 'cpu' and x.dtype == torch.int64 for x in (idx, labels, sep1, sep2))


def test_parser_errors_name_file_and_line(tmp_path):
    bad = tmp_path / 'bad.txt'
    bad.write_text(EXAMPLE + '\n' + '1 2 * 3 4 #### 5\n')
    with pytest.raises(ValueError, match=r'bad.txt:2'):
        data.read_file(str(bad))
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    with pytest.raises(ValueError, match='no examples'):
        data.read_file(str(empty))
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        data.read_file(str(tmp_path / 'nope.txt'))


@pytest.mark.parametrize('name, count', [('gsm8k/valid.txt', 500), ('gsm8k/test.txt', 1319),
                                         ('gsm8k/train_no_aug.txt', 6973)])
def test_gsm8k_files_parse(name, count):
    path = os.path.join(DATA, name)
    if not os.path.isfile(path):
        pytest.skip(f'{path} is absent (the official files live in ../shared/data)')
    exs = data.read_file(path)
    assert len(exs) == count  # train_no_aug holds U+2028 inside questions: lines split on newlines only
    enc = data.encoding()
    for e in exs:  # every line survives tokenisation in both layouts
        assert enc.decode(data.layout_ids(e, 'cot')) == f' {e.input} {data.EOS} {e.cot} {data.EOS} #### {e.answer} {data.EOS}'
        assert enc.decode(data.layout_ids(e, 'nocot')).endswith(f'{data.EOS} #### {e.answer} {data.EOS}')
    assert evaluate.normalize_answer('1,000') == '1000'


def test_equal_length_groups_and_read_answer():
    groups = evaluate.equal_length_groups([7, 5, 7, 7, 5], 2)
    assert groups == [[1, 4], [0, 2], [3]]
    assert evaluate.read_answer(' 1 2 + 3 <|endoftext|> #### 4 5 <|endoftext|> #### 9') == '4 5'
    assert evaluate.read_answer(' #### 1,000 <|endoftext|>') == '1,000' and evaluate.read_answer(' 1 2 3') == ''


def test_digit_accuracy_counts_each_position_and_needs_one_length():
    truth = ['0 0 7 5', '1 2 3 4', '9 9 9 9']
    preds = ['0 0 7 5', '1 2 0 4', '9 9']        # third: a short answer misses its last two digits
    assert evaluate.digit_accuracy(preds, truth) == [1.0, 1.0, 1 / 3, 2 / 3]
    assert evaluate.digit_accuracy(['1 2'], ['1 2 3']) == [1.0, 1.0, 0.0]
    assert evaluate.digit_accuracy(['18', '7'], ['18', '7 1']) is None  # GSM8K-like: lengths differ


def test_nocot_rows_equal_direct_encoding():
    lines = data.generate_multiplication(2, 2, 30, seed=0) + data.generate_multiplication(4, 3, 30, seed=0)
    gsm = os.path.join(DATA, 'gsm8k', 'valid.txt')
    exs = [data.parse_line(s) for s in lines] + (data.read_file(gsm)[:50] if os.path.isfile(gsm) else [])
    vocab = data.Vocab()
    t = data.tokenize(data.encode(exs), vocab)
    for i, ex in enumerate(exs):
        for layout in ('cot', 'nocot'):
            row = t[layout].idx[i, :t[layout].lengths[i]].tolist()
            assert row == data.layout_ids(ex, layout), (layout, ex.input[:40])
        assert t['nocot'].sep1[i] == t['cot'].sep1[i] and t['cot'].idx[i, t['cot'].sep2[i]] == vocab.eos
