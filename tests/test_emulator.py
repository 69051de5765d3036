import pytest
import torch

from emulator import Emulator
from gpt import GPTConfig
from conftest import needs

CFG = GPTConfig(n_layer=4, n_head=2, n_embd=8, block_size=24, vocab_size=9)


def batch():
    torch.manual_seed(0)
    return torch.randint(9, (4, 6)), torch.tensor([5, 5, 5, 5]), torch.randn(4, 4, 8)


@needs('attention', 'hook', 'emulator_step')
@pytest.mark.parametrize('use_lstm', [True, False])
def test_predictions_loss_and_write_back(use_lstm):
    idx, sep1, z = batch()
    emu = Emulator(CFG, use_lstm=use_lstm)
    zh, loss = emu(idx, sep1, z, mode='train')
    assert zh.shape == (4, 4, 8)
    torch.testing.assert_close(loss, 0.5 * ((zh - z) ** 2).sum((1, 2)).mean())
    written = []
    emu.gpt.body = (lambda body: lambda idx, hook=None: body(idx, lambda l, x: written.append(hook(l, x)) or written[-1]))(emu.gpt.body)
    zh2, _ = emu(idx, sep1, mode='argmax')
    torch.testing.assert_close(zh2, zh)
    if not use_lstm:  # without the LSTM the prediction itself is written back
        torch.testing.assert_close(written[1][:, 5], zh[:, 1])
    loss.backward()
    trained = [emu.mlps, emu.gpt.transformer.h[0]] + ([emu.lstm, emu.key, emu.out] if use_lstm else [])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for m in trained for p in m.parameters())


@needs('attention', 'hook', 'emulator_step')
def test_lstm_state_carries_across_layers():
    idx, sep1, z = batch()
    emu = Emulator(GPTConfig(n_layer=4, n_head=2, n_embd=8, block_size=24, vocab_size=9))
    zh, _ = emu(idx, sep1)
    with torch.no_grad():
        emu.key.weight.add_(1.0)  # change only the attention over earlier layers
    zh2, _ = emu(idx, sep1)
    # ctx_0 = 0 and ctx_1 attends over o_0 alone (weight 1), so the keys first matter in ctx_2,
    # which enters o_3 through the LSTM: zh_0..zh_2 stay, zh_3 moves
    torch.testing.assert_close(zh2[:, :3], zh[:, :3])
    assert not torch.allclose(zh2[:, 3], zh[:, 3])


@needs('attention', 'hook', 'emulator_step')
def test_mixture_modes():
    idx, sep1, z = batch()
    emu = Emulator(CFG, mixture_size=9)
    tokens = torch.randint(9, (4, 4))
    zh_a, loss_a = emu(idx, sep1, z, tokens, mode='train')
    zh_b, loss_b = emu(idx, sep1, z, (tokens + 1) % 9, mode='train')
    assert not torch.allclose(zh_a[:, 0], zh_b[:, 0])        # training reads the true token's component
    assert loss_a > 0.5 * ((zh_a - z) ** 2).sum((1, 2)).mean()  # plus 0.01 x the component cross-entropy
    # argmax at inference = teacher-forcing the token the emulator scores highest
    E = emu.mixture.weight
    picked = []
    real = emu.component
    emu.component = lambda c, token, mode: (picked.append((c @ E.t()).argmax(-1)), real(c, token, mode))[1]
    zh_arg, _ = emu(idx, sep1, mode='argmax')
    emu.component = real
    zh_forced, _ = emu(idx, sep1, z, torch.stack(picked, 1), mode='train')
    torch.testing.assert_close(zh_arg, zh_forced)
    # the soft choice (temperature 0.05) lets gradients reach the component scores
    c = torch.randn(4, 8, requires_grad=True)
    m, _ = emu.component(c, None, 'soft')
    m.sum().backward()
    assert c.grad.abs().sum() > 0
    m_arg, _ = emu.component(c.detach(), None, 'argmax')
    assert m.shape == m_arg.shape == (4, 8)

