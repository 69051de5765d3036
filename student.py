"""The mind-reading student: a GPT that reads the `nocot` layout and, before every block l,
finds mlp_l(z_l) written at sep1 in place of its own stream. z comes from the teacher
(mind-reading) or from the emulator (implicit CoT)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt import GPT, mlp, replace_at


class Student(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.gpt = GPT(config)
        self.mlps = nn.ModuleList(mlp(config.n_embd, config.n_embd) for _ in range(config.n_layer))

    def hook(self, sep1, z):
        """Before block l, the stream at sep1 becomes mlp_l(z_l); every other position is untouched."""
        ### BEGIN SOLUTION student_write
        return lambda l, x: replace_at(x, sep1, self.mlps[l](z[:, l]))  # z (B, L, C)
        ### END SOLUTION

    def forward(self, idx, sep1, z, targets=None):
        """idx (B, T) nocot layout; the loss covers the answer only (the labels do the masking)."""
        return self.gpt(idx, targets, hook=self.hook(sep1, z))

    def generate(self, idx, sep1, z, max_new_tokens, stop_token=None):
        return self.gpt.generate(idx, max_new_tokens, self.hook(sep1, z), stop_token)


def answer_match_loss(student_h, teacher_h, sep1, sep2, lengths, J):
    """An option for training the student (not in the paper): its stream entering blocks 1..L-1
    at each answer token after sep1 is pulled towards the teacher's at the same token after sep2
    (the answer reads the same in both layouts), both layer-normed. The answer loss alone gives
    no gradient to reading one summand of a digit while the other is missing (their sum mod 10
    is independent of either), which stalls the student on 4x4's digit 4 (docs/student.md); the teacher's
    streams there already hold both. student_h, teacher_h: L x (B, T, C); J: the most tokens
    from sep1 to a row's end. Mean squared distance per dimension."""
    j = torch.arange(1, J, device=sep1.device)
    ps, pt = sep1[:, None] + j, sep2[:, None] + j                             # (B, J - 1)
    keep = (ps < lengths[:, None]).float()                                  # real answer tokens
    gather = lambda h, p: F.layer_norm(h.gather(1, p.clamp(max=h.size(1) - 1)[..., None].expand(
        -1, -1, h.size(2))).float(), h.shape[-1:])                          # (B, J - 1, C)
    err = sum(((gather(hs, ps) - gather(ht, pt)) ** 2).mean(-1) for hs, ht in zip(student_h[1:], teacher_h[1:]))
    return (err * keep).sum() / keep.sum() / (len(student_h) - 1)
