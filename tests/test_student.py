import torch

import data
from gpt import GPTConfig
from student import Student, answer_match_loss
from conftest import needs

CFG = GPTConfig(n_layer=3, n_head=2, n_embd=8, block_size=24, vocab_size=9)


def tiny(seed, T, sep1):
    """A seeded student, a batch of two token rows, their sep1 and teacher states z (2, L, C)."""
    torch.manual_seed(seed)
    return Student(CFG).eval(), torch.randint(9, (2, T)), torch.tensor(sep1), torch.randn(2, 3, 8)


@needs('attention', 'hook', 'student_write')
def test_student_writes_mlp_of_z_at_sep1_before_every_block():
    student, idx, sep1, z = tiny(0, 10, [3, 5])
    _, _, hiddens = student(idx, sep1, z)
    _, _, plain = student.gpt(idx)
    for l in range(3):
        for b in range(2):
            torch.testing.assert_close(hiddens[l][b, sep1[b]], student.mlps[l](z[b, l]))
            torch.testing.assert_close(hiddens[l][b, :sep1[b]], plain[l][b, :sep1[b]])  # earlier: untouched
    assert not torch.allclose(hiddens[1][0, 4:], plain[1][0, 4:])  # later positions read the write


@needs('attention', 'hook', 'student_write')
def test_student_loss_and_gradients_reach_z():
    student, idx, sep1, z = tiny(0, 10, [3, 3])
    z.requires_grad_()
    labels = idx.roll(-1, 1)
    labels[:, :3] = -1
    loss = student(idx, sep1, z, labels)[1]
    loss.backward()
    assert z.grad.abs().sum(-1).gt(0).all()  # every layer's state matters


@needs('attention', 'hook', 'student_write')
def test_student_generation_matches_recomputation():
    student, prompt, sep1, z = tiny(1, 5, [4, 4])
    out = student.generate(prompt, sep1, z, 6)
    seq = prompt
    for _ in range(6):
        seq = torch.cat([seq, student(seq, sep1, z)[0][:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq)


def test_answer_tokens_read_the_same_after_sep1_in_nocot_and_after_sep2_in_cot():
    """answer_match_loss pairs nocot position sep1 + j with cot position sep2 + j."""
    lines = data.generate_multiplication(3, 2, 5, seed=0) + ['a b||c d e #### 1 2 3 4', 'x||y #### 7']
    enc = data.encode([data.parse_line(s) for s in lines])
    t = data.tokenize(enc, data.Vocab(enc[0]))
    nocot, cot = t['nocot'], t['cot']
    for b in range(len(lines)):
        s1, s2, n = int(nocot.sep1[b]), int(cot.sep2[b]), int(nocot.lengths[b])
        assert torch.equal(nocot.idx[b, s1:n], cot.idx[b, s2:s2 + n - s1])


def test_answer_match_loss_compares_aligned_answer_tokens_only():
    torch.manual_seed(0)
    L, B, C = 3, 2, 8
    sep1, sep2, lengths = torch.tensor([2, 3]), torch.tensor([6, 9]), torch.tensor([6, 6])  # answers: 3 and 2 tokens after sep1
    teacher = [torch.randn(B, 13, C) for _ in range(L)]
    student = [torch.randn(B, 7, C) for _ in range(L)]
    for l in range(L):  # the student's answer streams copy the teacher's, scaled (layer norm undoes it)
        for b in range(B):
            n = int(lengths[b] - sep1[b])
            student[l][b, sep1[b] + 1:lengths[b]] = 3 * teacher[l][b, sep2[b] + 1:sep2[b] + n]
    assert answer_match_loss(student, teacher, sep1, sep2, lengths, J=4).item() < 1e-6
    student[0][0, 3] += 5  # layer 0, the embeddings, is not compared
    student[1][1, 6] += 5  # past the row's end: padding
    student[2][0, 2] += 5  # sep1 itself holds the write of z
    assert answer_match_loss(student, teacher, sep1, sep2, lengths, J=4).item() < 1e-6
    student[2][1, 4] += torch.randn(C)  # an answer token at the last layer
    assert answer_match_loss(student, teacher, sep1, sep2, lengths, J=4).item() > 1e-3
