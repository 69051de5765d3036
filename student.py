"""The mind-reading student: a GPT that reads the `nocot` layout and, before every block l,
finds mlp_l(z_l) written at sep1 in place of its own stream. z comes from the teacher
(mind-reading) or from the emulator (implicit CoT)."""
import torch.nn as nn

from gpt import GPT, replace_at


def mlp(n_in, C):
    return nn.Sequential(nn.Linear(n_in, 4 * C), nn.ReLU(), nn.Linear(4 * C, C))


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
