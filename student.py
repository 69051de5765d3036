"""The mind-reading student: a GPT that reads the `nocot` layout and, before every block l,
finds mlp_l(z_l) written at sep1 in place of its own stream. z comes from the teacher
(mind-reading) or from the emulator (implicit CoT)."""
import torch
import torch.nn as nn

from gpt import GPT, replace_at


def mlp(n_in, C):
    return nn.Sequential(nn.Linear(n_in, 4 * C), nn.ReLU(), nn.Linear(4 * C, C))


@torch.no_grad()
def identity_(mlp):
    """Make mlp(z) == z: hidden units 0..C-1 carry relu(z), C..2C-1 relu(-z), and the output is
    their difference. The other 2C units keep their random inputs, but their outputs start at 0,
    so they still learn. Started so from the teacher's weights, the student's sep1 begins by
    seeing the teacher's own state there instead of a random projection of it."""
    fc, proj = mlp[0], mlp[2]
    C = proj.out_features
    eye = torch.eye(C, device=fc.weight.device)
    split = torch.cat([eye, -eye])                      # (2C, C): z -> (z, -z)
    fc.weight[:2 * C] = split                           # fc.weight (4C, C)
    fc.bias[:2 * C] = 0
    proj.weight.zero_()                                 # (C, 4C)
    proj.weight[:, :2 * C] = split.t()                  # (relu(z), relu(-z)) -> their difference
    proj.bias.zero_()


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
