"""Data: the multiplication generator, the `input||cot #### answer` parser, the GPT-2
tokenisation into the paper's `cot` / `nocot` layouts, a compact vocabulary, and batches.

    python data.py 4 4 5        # print five fresh 4x4 lines in the official format
"""
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


def generate_multiplication(n, m, count, seed, exclude=()):
    """`count` distinct seeded n-digit x m-digit problems as lines, none of whose operand pairs
    is in `exclude` (a set of (a, b), e.g. a test set's)."""
    space = 9 * 10 ** (n - 1) * 9 * 10 ** (m - 1)
    exclude = set(exclude)
    if count > space - len(exclude):
        raise ValueError(f'{count} distinct {n}x{m} problems asked for, but only '
                         f'{space - len(exclude)} exist outside the excluded set')
    rng = np.random.default_rng(seed)
    seen, lines = set(exclude), []
    while len(lines) < count:
        a = rng.integers(10 ** (n - 1), 10 ** n, size=2 * (count - len(lines)))
        b = rng.integers(10 ** (m - 1), 10 ** m, size=a.size)
        for pair in zip(a.tolist(), b.tolist()):
            if pair not in seen and len(lines) < count:
                seen.add(pair)
                lines.append(multiplication_line(*pair))
    return lines


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


def read_file(path):
    """All examples of a data file; errors name the file and the line number."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'data file {path} does not exist')
    with open(path, encoding='utf-8', newline='') as f:
        # split on newlines only: str.splitlines() would also break lines at characters such as
        # U+2028 or form feeds, which GSM8K questions contain
        lines = [s.removesuffix('\r') for s in f.read().split('\n')]
    examples = [parse_line(s, f'{path}:{i}') for i, s in enumerate(lines, 1) if s.strip()]
    if not examples:
        raise ValueError(f'data file {path} holds no examples')
    return examples


def show(ex, predicted):
    """One answer as a person reads it: '12 * 34 = 408, model said 418'."""
    if ' * ' in ex.input and ex.input.replace(' ', '').replace('*', '').isdigit():
        a, b = operands(ex.input + '||')
        read = lambda s: s.replace(' ', '')[::-1] or '(nothing)'
        return f'{a} * {b} = {read(ex.answer)}, model said {read(predicted)}'
    return f'{ex.input[:70]}... = {ex.answer}, model said {predicted or "(nothing)"}'


def normalize_answer(s):
    """Exact match compares answers with commas removed (GSM8K's '1,000' == '1000')."""
    return s.strip().replace(',', '')


# ----------------------------------------------------------------------------- tokens

def layout_ids(ex, layout):
    """GPT-2 ids of one example in the `cot` or `nocot` layout (DESIGN section 2). The space
    before each eos stays its own token (220), as in the paper."""
    assert layout in ('cot', 'nocot', 'input'), layout
    text = f' {ex.input} {EOS}'
    if layout == 'cot':
        text += f' {ex.cot} {EOS}'
    if layout != 'input':
        text += f' #### {ex.answer} {EOS}'
    return encoding().encode(text, allowed_special={EOS})


class Vocab:
    """Maps GPT-2 ids to model ids. `ids=None` is the full GPT-2 table (for GPT-2 weights);
    otherwise a compact table of just the ids a task uses, which shrinks wte and lm_head."""

    def __init__(self, ids=None):
        self.ids = None if ids is None else sorted(set(ids) | {encoding().eot_token})
        if self.ids is not None:
            self._to_model = {g: i for i, g in enumerate(self.ids)}

    def __len__(self):
        return encoding().n_vocab if self.ids is None else len(self.ids)

    @property
    def eos(self):
        return self.encode([encoding().eot_token])[0]

    def encode(self, gpt2_ids):
        if self.ids is None:
            return list(gpt2_ids)
        missing = {g for g in gpt2_ids if g not in self._to_model}
        if missing:
            raise ValueError(f'tokens {sorted(encoding().decode([g]) for g in missing)} are not in '
                             f'this model\'s compact vocabulary (built from its training data)')
        return [self._to_model[g] for g in gpt2_ids]

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

    def to(self, device):
        move = {k: getattr(self, k).to(device) for k in ('idx', 'labels', 'sep1', 'sep2', 'lengths')}
        return Tokenized(**move, answers=self.answers)


def tokenize(examples, layout, vocab, device='cpu'):
    """Examples -> Tokenized in `layout`. Labels cover everything after sep1."""
    rows = [vocab.encode(layout_ids(ex, layout)) for ex in examples]
    N, T, eos = len(rows), max(map(len, rows)), vocab.eos
    idx = np.full((N, T), eos, dtype=np.int64)
    labels = np.full((N, T), -1, dtype=np.int64)
    sep1, sep2 = np.zeros(N, dtype=np.int64), np.full(N, -1, dtype=np.int64)
    for i, r in enumerate(rows):
        idx[i, :len(r)] = r
        eos_at = [p for p, t in enumerate(r) if t == eos]
        sep1[i] = eos_at[0]
        if layout == 'cot':
            sep2[i] = eos_at[1]
        labels[i, sep1[i]:len(r) - 1] = r[sep1[i] + 1:]  # predict every token after sep1
    t = lambda a: torch.from_numpy(a).to(device)
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    return Tokenized(t(idx), t(labels), t(sep1), t(sep2), t(lengths), [ex.answer for ex in examples])


def equal_length_groups(lengths, batch_size):
    """Row indices grouped so each group shares one length and holds at most batch_size rows:
    prompts batched this way need no padding and no attention mask."""
    groups = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if not groups or lengths[groups[-1][0]] != lengths[i] or len(groups[-1]) == batch_size:
            groups.append([])
        groups[-1].append(i)
    return groups


def read_answer(text):
    """The answer in generated text: what follows '####', up to the next eos."""
    return text.split('####', 1)[1].split(EOS)[0].strip() if '####' in text else ''


def get_batch(data, batch_size, generator=None):
    """A random batch (indices drawn on the data's device: no per-example Python)."""
    i = torch.randint(len(data), (batch_size,), device=data.idx.device, generator=generator)
    return data.idx[i], data.labels[i], data.sep1[i], data.sep2[i]


if __name__ == '__main__':
    n, m, k = (int(x) for x in sys.argv[1:4])
    print('\n'.join(generate_multiplication(n, m, k, seed=0)))
