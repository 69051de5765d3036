"""Data: the multiplication generator, the `input||cot #### answer` parser, the GPT-2
tokenisation into the paper's `cot` / `nocot` layouts, a compact vocabulary, and batches.

    python data.py 4 4 5        # print five fresh 4x4 lines in the official format
"""
import functools
import os
import sys
from dataclasses import dataclass

import numpy as np
import tiktoken
import torch

EOS = '<|endoftext|>'
_enc = None


def encoding():
    """tiktoken's GPT-2 BPE, loaded once (from TIKTOKEN_CACHE_DIR when set)."""
    global _enc
    if _enc is None:
        _enc = tiktoken.get_encoding('gpt2')
    return _enc


# ----------------------------------------------------------------------------- multiplication

def _digits(x, width):
    """x as `width` space-separated digits, least significant first: 3719, 5 -> '9 1 7 3 0'."""
    return ' '.join(reversed(str(x).zfill(width)))


def multiplication_line(a, b):
    """The official line for a * b: partial products a*b_i*10^i (reversed, padded to n+1+i
    digits) joined by '+', the running sum in ( ) after every addition but the last."""
    n, m = len(str(a)), len(str(b))
    cot, total = '', 0
    for i, bi in enumerate(int(d) for d in reversed(str(b))):
        partial = a * bi * 10 ** i
        total += partial
        cot += (' + ' if i else '') + _digits(partial, n + 1 + i)
        if 0 < i < m - 1:
            cot += ' ( ' + _digits(total, n + 1 + i) + ' )'
    return f'{_digits(a, n)} * {_digits(b, m)}||{cot} #### {_digits(a * b, n + m)}'


def operands(line):
    """(a, b) from a multiplication line: '9 1 7 3 * 9 4 3 3||...' -> (3719, 3349)."""
    a, b = line.split('||')[0].split(' * ')
    return int(a.replace(' ', '')[::-1]), int(b.replace(' ', '')[::-1])


def multiplication_pairs(n, m, count, seed, exclude=()):
    """`count` distinct seeded operand pairs (a (count,), b (count,)) of n and m digits, none of
    them in `exclude` (a set of (a, b), e.g. a test set's). Draws in rounds of twice what is
    still missing and keeps, in order, each pair not seen before."""
    space = 9 * 10 ** (n - 1) * 9 * 10 ** (m - 1)
    if count > space - len(set(exclude)):
        raise ValueError(f'{count} distinct {n}x{m} problems asked for, but only '
                         f'{space - len(set(exclude))} exist outside the excluded set')
    rng = np.random.default_rng(seed)
    seen = np.array([a * 10 ** m + b for a, b in exclude], dtype=np.int64)  # a pair as one key
    a, b = np.empty(0, np.int64), np.empty(0, np.int64)
    while a.size < count:
        a1 = rng.integers(10 ** (n - 1), 10 ** n, size=2 * (count - a.size))
        b1 = rng.integers(10 ** (m - 1), 10 ** m, size=a1.size)
        key = a1 * 10 ** m + b1
        fresh = np.flatnonzero(~np.isin(key, seen))
        first = np.sort(fresh[np.unique(key[fresh], return_index=True)[1]])[:count - a.size]
        a, b, seen = np.r_[a, a1[first]], np.r_[b, b1[first]], np.r_[seen, key[first]]
    return a, b


def generate_multiplication(n, m, count, seed, exclude=()):
    """`count` distinct seeded n-digit x m-digit problems as lines (see multiplication_pairs)."""
    return [multiplication_line(a, b) for a, b in zip(*(x.tolist() for x in multiplication_pairs(
        n, m, count, seed, exclude)))]


def multiplication_ids(a, b, n, m, device='cpu'):
    """What encode() returns for the lines of the pairs (a, b), made on the device without the
    tokenizer: every word of a line is its own BPE piece, so the rows are columns of per-digit
    lookups, all of one length. 808,000 4x4 problems take 2 s on 2 CPU cores instead of encode()'s 70."""
    enc = encoding()
    word = lambda w: enc.encode(w, allowed_special={EOS})    # ' 7' -> [767], ' ####' -> two ids
    digit = torch.tensor([word(f' {d}')[0] for d in range(10)], device=device)
    a_, b_ = a, b
    a, b = torch.as_tensor(a, device=device), torch.as_tensor(b, device=device)
    cols = []
    put = lambda w: cols.extend(torch.full_like(a, i) for i in word(w))
    put_digits = lambda x, width: cols.extend(digit[x // 10 ** k % 10] for k in range(width))
    put_digits(a, n), put(' *'), put_digits(b, m), put(f' {EOS}')
    total = torch.zeros_like(a)
    for i in range(m):
        partial = a * (b // 10 ** i % 10) * 10 ** i
        total = total + partial
        if i:
            put(' +')
        put_digits(partial, n + 1 + i)
        if 0 < i < m - 1:
            put(' ('), put_digits(total, n + 1 + i), put(' )')
    put(f' {EOS} ####'), put_digits(a * b, n + m), put(f' {EOS}')
    gpt2 = torch.stack(cols).T                    # (N, T); stacked as rows, which is 4x faster
    chars = np.full((a.numel(), 2 * (n + m) - 1), ord(' '), np.uint8)     # the answers as text
    chars[:, ::2] = (a_ * b_)[:, None] // 10 ** np.arange(n + m) % 10 + ord('0')
    answers = chars.view(f'S{chars.shape[1]}').ravel().astype(str).tolist()
    return gpt2, torch.full_like(a, gpt2.size(1)), answers


# ----------------------------------------------------------------------------- files

@dataclass
class Example:
    input: str
    cot: str
    answer: str


def parse_line(line, where='<string>'):
    """'input||cot #### answer' -> Example; a malformed line raises naming `where`."""
    if line.count('||') != 1 or ' #### ' not in line.split('||')[1]:
        raise ValueError(f"{where}: expected 'input||cot #### answer', got {line[:80]!r}")
    src, tgt = line.split('||')
    cot, answer = tgt.rsplit(' #### ', 1)
    if not src.strip() or not answer.strip():
        raise ValueError(f'{where}: empty input or answer in {line[:80]!r}')
    return Example(src.strip(), cot.strip(), answer.strip())


OFFICIAL = 'the official files are in the data/ folder of github.com/da03/implicit_chain_of_thought'


def read_file(path, check=None):
    """All examples of a data file; errors name the file and the line number. `check(ex, where)`,
    when given, may refuse an example (e.g. check_multiplication)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'data file {path} does not exist ({OFFICIAL})')
    try:
        with open(path, encoding='utf-8', newline='') as f:
            # split on newlines only: str.splitlines() would also break lines at characters such as
            # U+2028 or form feeds, which GSM8K questions contain
            lines = [s.removesuffix('\r') for s in f.read().split('\n')]
    except UnicodeDecodeError as e:
        raise ValueError(f'{path}: not UTF-8 text (byte {e.start} is {e.object[e.start:e.start + 1]!r})') from None
    examples = [parse_line(s, f'{path}:{i}') for i, s in enumerate(lines, 1) if s.strip()]
    if check:
        for i, ex in zip((i for i, s in enumerate(lines, 1) if s.strip()), examples):
            check(ex, f'{path}:{i}')
    if not examples:
        raise ValueError(f'data file {path} holds no examples')
    return examples


def check_multiplication(n, m, ex, where):
    """Refuse a line that is not the official line of an n-digit times m-digit product."""
    try:
        a, b = operands(f'{ex.input}||')
    except ValueError:
        raise ValueError(f'{where}: expected an {n}x{m} multiplication, got {ex.input[:60]!r}') from None
    if (len(str(a)), len(str(b))) != (n, m):
        raise ValueError(f'{where}: operands {a} and {b} are not {n} and {m} digits long (task mult{n}x{m})')
    line = f'{ex.input}||{ex.cot} #### {ex.answer}'
    if line != multiplication_line(a, b):
        raise ValueError(f'{where}: not the line of {a} * {b} = {a * b}: its CoT or answer differs')


# ----------------------------------------------------------------------------- tokens

def layout_text(ex, layout):
    """One example as text in the `cot` or `nocot` layout (DESIGN section 2), or its `input` alone."""
    assert layout in ('cot', 'nocot', 'input'), layout
    text = f' {ex.input} {EOS}'
    if layout == 'cot':
        text += f' {ex.cot} {EOS}'
    if layout != 'input':
        text += f' #### {ex.answer} {EOS}'
    return text


def layout_ids(ex, layout):
    """GPT-2 ids of one example in `layout`. The space before each eos stays its own token
    (220), as in the paper."""
    return encoding().encode(layout_text(ex, layout), allowed_special={EOS})


class Vocab:
    """Maps GPT-2 ids to model ids. `ids=None` is the full GPT-2 table (for GPT-2 weights);
    otherwise a compact table of just the ids a task uses, which shrinks wte and lm_head."""

    def __init__(self, ids=None):
        if ids is not None:  # ids: any array or tensor; one count per id finds the used ones
            used = torch.bincount(torch.as_tensor(ids).ravel(), minlength=encoding().n_vocab)
            used[encoding().eot_token] = 1
            ids = used.nonzero().ravel().tolist()
        self.ids = ids
        if self.ids is not None:  # a lookup table: GPT-2 id -> model id, -1 where the task has none
            self._lut = np.full(encoding().n_vocab, -1, dtype=np.int64)
            self._lut[self.ids] = np.arange(len(self.ids))

    def __len__(self):
        return encoding().n_vocab if self.ids is None else len(self.ids)

    @property
    def eos(self):
        return self.encode([encoding().eot_token])[0]

    def encode(self, gpt2_ids):
        return self.encode_array(np.asarray(gpt2_ids, dtype=np.int64)).tolist()

    def encode_array(self, gpt2_ids):  # a numpy array or a tensor (looked up on its device)
        if self.ids is None:
            return gpt2_ids
        lut = self._lut if isinstance(gpt2_ids, np.ndarray) else torch.from_numpy(self._lut).to(gpt2_ids.device)
        out = lut[gpt2_ids]
        if (out < 0).any():
            missing = sorted({encoding().decode([g]) for g in gpt2_ids[out < 0].tolist()})
            raise ValueError(f'tokens {missing} are not in this model\'s compact vocabulary '
                             f'(built from its training data)')
        return out

    def decode(self, model_ids):
        ids = model_ids if self.ids is None else [self.ids[i] for i in model_ids]
        return encoding().decode(ids)


@dataclass
class Tokenized:
    """A data set as padded tensors; one row per example."""
    idx: torch.Tensor      # (N, T) model ids, right-padded with eos
    labels: torch.Tensor   # (N, T) next-token targets, -1 where no loss
    sep1: torch.Tensor     # (N,) position of the eos that ends the input
    sep2: torch.Tensor     # (N,) position of the eos that ends the CoT (cot layout; else -1)
    lengths: torch.Tensor  # (N,) real tokens per row
    answers: list          # (N,) answer strings, for exact match

    def __len__(self):
        return self.idx.size(0)


def encode(examples):
    """Examples -> (GPT-2 ids (N, T) in the cot layout, right-padded with eos; lengths (N,);
    answers), as tensors. The one pass of the tokenizer over a data set."""
    enc = encoding()
    rows = [enc.encode(layout_text(ex, 'cot'), allowed_special={EOS}) for ex in examples]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    gpt2 = np.full((len(rows), int(lengths.max())), enc.eot_token, dtype=np.int64)
    gpt2[np.arange(gpt2.shape[1]) < lengths[:, None]] = np.concatenate(rows)
    return torch.from_numpy(gpt2), torch.from_numpy(lengths), [ex.answer for ex in examples]


def tokenize(encoded, vocab, device='cpu'):
    """encode()'s output -> {'cot': Tokenized, 'nocot': Tokenized}, made on the device (808,000
    4x4 rows: a few seconds on 2 CPU cores, far less on a GPU). The nocot rows are the cot
    tokens without the span (sep1, sep2], which is exact because the eos tokens cut GPT-2's
    encoding into independent pieces. Labels cover everything after sep1."""
    gpt2, lengths, answers = encoded
    gpt2, lengths = torch.as_tensor(gpt2, device=device), torch.as_tensor(lengths, device=device)
    N, T = gpt2.shape
    pos = torch.arange(T, device=device)
    is_eos = ((gpt2 == encoding().eot_token) & (pos < lengths[:, None])).int()
    sep1 = is_eos.argmax(1)                                                 # (N,) the first eos
    sep2 = (is_eos * (pos > sep1[:, None])).argmax(1)                       # (N,) the second
    drop = ((pos > sep1[:, None]) & (pos <= sep2[:, None])).int()           # nocot: drop the CoT
    order = drop.argsort(dim=1, stable=True)                                  # kept tokens first, in order
    nocot_len = lengths - (sep2 - sep1)
    idx = vocab.encode_array(gpt2)                                          # (N, T) model ids
    return dict(cot=_tokenized(idx, lengths, sep1, sep2, vocab, answers),
                nocot=_tokenized(idx.gather(1, order)[:, :int(nocot_len.max())], nocot_len,
                                 sep1, torch.full_like(sep1, -1), vocab, answers))


def _tokenized(idx, lengths, sep1, sep2, vocab, answers):
    pos = torch.arange(idx.size(1), device=idx.device)
    idx = torch.where(pos < lengths[:, None], idx, vocab.eos)               # pad with eos
    # position p predicts token p + 1, for every p from sep1 to the row's last token but one
    labels = torch.where((pos >= sep1[:, None]) & (pos < lengths[:, None] - 1), idx.roll(-1, 1), -1)
    return Tokenized(idx.contiguous(), labels, sep1, sep2, lengths, answers)


# ----------------------------------------------------------------------------- the data sets of a run

class Data:
    """Train, test (and valid) sets in both layouts, on the device, with one vocabulary.
    Evaluation reads `test`; selection on validation points it at the valid set for a moment."""

    def __init__(self, cfg, device):
        self.device, self.split = device, 'test'
        # without a test file: a seeded test set, then training problems disjoint from it
        # with generated training problems, a test or valid file must hold the task's, correctly
        check = None if cfg.train_file else functools.partial(check_multiplication, *parse_task(cfg.task))
        test = read_file(cfg.test_file, check) if cfg.test_file else [parse_line(s) for s in
            generate_multiplication(*parse_task(cfg.task), cfg.test_size, cfg.seed + 1)]
        valid = read_file(cfg.valid_file, check) if cfg.valid_file else []
        if cfg.train_file:
            train = encode(read_file(cfg.train_file))
        else:  # generated on the device, without the tokenizer, which took 70 s for 4x4's 808,000
            pairs = multiplication_pairs(*parse_task(cfg.task), cfg.train_size, cfg.seed,
                                              {operands(f'{e.input}||') for e in test})
            train = multiplication_ids(*pairs, *parse_task(cfg.task), device)
        encoded = [train] + [encode(exs) if exs else None for exs in (test, valid)]
        # GPT-2's weights need its whole table; from scratch, the ids the task uses are enough
        self.vocab = Vocab(None if cfg.init_from else torch.cat([e[0].ravel().to(device) for e in encoded if e]))
        self.train, test_set, valid_set = (tokenize(e, self.vocab, device) if e else None for e in encoded)
        self.sets = {'test': (test_set, test), 'valid': (valid_set, valid) if valid else None}
        # sequence lengths, fixed per data set so the hot path never asks the device
        self.T = {k: self.train[k].idx.size(1) for k in ('cot', 'nocot')}
        self.T['input'] = int(self.train['nocot'].sep1.max()) + 1
        self.T['answer'] = int((self.train['nocot'].lengths - self.train['nocot'].sep1).max())  # sep1 to the end
        self.block_size = max(self.T['cot'], *(t['cot'].idx.size(1) for t, _ in filter(None, self.sets.values())))
        if cfg.init_from:
            if self.block_size > 1024:
                raise ValueError(f'the longest example has {self.block_size} tokens, more than GPT-2\'s 1024')
            self.block_size = 1024

    @property
    def test(self):
        return self.sets[self.split][0]

    @property
    def test_examples(self):
        return self.sets[self.split][1]


def parse_task(task):
    """(n, m) of a generated task 'multNxM', each from 1 to 9 digits (products fit in int64)."""
    try:
        n, m = (int(x) for x in task.removeprefix('mult').split('x'))
        if task.startswith('mult') and 1 <= n <= 9 and 1 <= m <= 9:
            return n, m
    except ValueError:
        pass
    raise ValueError(f"task must be multNxM with N and M from 1 to 9, e.g. 'mult4x4' (or give train_file "
                     f"and test_file), got {task!r}")


if __name__ == '__main__':
    n, m, k = (int(x) for x in sys.argv[1:4])
    print('\n'.join(generate_multiplication(n, m, k, seed=0)))
