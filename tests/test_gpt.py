import pytest
import torch

from gpt import GPT, GPTConfig, configure_optimizers
from tools.gpt2 import download, from_gpt2_state_dict, read_safetensors
from conftest import needs


def tiny(**kw):
    torch.manual_seed(0)
    cfg = dict(n_layer=3, n_head=2, n_embd=16, block_size=32, vocab_size=11)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).eval()


@needs('attention', 'hook')
def test_shapes_and_hiddens():
    model = tiny()
    idx = torch.randint(11, (2, 7))
    logits, loss, hiddens = model(idx)
    assert logits.shape == (2, 7, 11) and loss is None
    assert len(hiddens) == 3 and all(h.shape == (2, 7, 16) for h in hiddens)
    emb = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(7))
    torch.testing.assert_close(hiddens[0], emb)
    # hiddens[l + 1] is what block l made of hiddens[l]
    torch.testing.assert_close(hiddens[1], model.transformer.h[0](hiddens[0]))


@needs('attention', 'hook')
def test_identity_hook_equals_no_hook():
    model = tiny()
    idx = torch.randint(11, (2, 7))
    calls = []
    a = model(idx)
    b = model(idx, hook=lambda l, x: calls.append(l) or x)
    assert calls == [0, 1, 2]
    torch.testing.assert_close(a[0], b[0])
    for ha, hb in zip(a[2], b[2]):
        torch.testing.assert_close(ha, hb)


@needs('attention', 'hook')
def test_write_at_position_p_before_layer_l():
    model = tiny()
    idx = torch.randint(11, (2, 8))
    p, layer = 4, 1
    new = torch.randn(2, 16)

    def hook(l, x):
        if l == layer:
            x = x.clone()
            x[:, p] = new
        return x
    base_logits, _, base_h = model(idx)
    logits, _, hiddens = model(idx, hook=hook)
    torch.testing.assert_close(hiddens[layer][:, p], new)
    torch.testing.assert_close(hiddens[layer][:, :p], base_h[layer][:, :p])
    torch.testing.assert_close(logits[:, :p], base_logits[:, :p])  # causal: earlier positions untouched
    assert (logits[:, p:] - base_logits[:, p:]).abs().amax(-1).min() > 1e-6  # every later position moved


@needs('attention', 'hook')
def test_cached_generation_equals_recomputation():
    model = tiny(n_layer=2, vocab_size=13)
    idx = torch.randint(13, (3, 5))
    hook = lambda l, x: x + 0.5 * (l + 1) * torch.ones_like(x) * (torch.arange(x.size(1)) == 4)[:, None]
    out = model.generate(idx, 12, hook=hook)
    seq = idx  # full recomputation: the hook acts on the prompt positions only
    for _ in range(12):
        T0 = idx.size(1)
        h = lambda l, x: torch.cat([hook(l, x[:, :T0]), x[:, T0:]], 1)
        logits, _, _ = model(seq, hook=h)
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq)


@needs('attention', 'hook')
def test_generation_stops_at_stop_token():
    model = tiny()
    idx = torch.randint(11, (2, 4))
    full = model.generate(idx, 10)
    stop = int(full[0, 4])  # the first token row 0 emits
    assert torch.equal(model.generate(idx[:1], 10, stop_token=stop), full[:1, :5])
    out = model.generate(idx, 10, stop_token=stop)  # the batch runs until every row has stopped
    assert torch.equal(out, full[:, :out.size(1)])
    assert all((row[4:] == stop).any() for row in out) or out.size(1) == full.size(1)


@needs('attention', 'hook')
def test_loss_ignores_masked_targets():
    model = tiny()
    idx = torch.randint(11, (2, 6))
    targets = torch.randint(11, (2, 6))
    targets[:, :3] = -1
    logits, loss, _ = model(idx, targets)
    ref = torch.nn.functional.cross_entropy(logits[:, 3:].reshape(-1, 11), targets[:, 3:].reshape(-1))
    torch.testing.assert_close(loss, ref)


def test_tied_embeddings_and_optimizer_groups():
    model = tiny()
    assert model.lm_head.weight is model.transformer.wte.weight
    opt = configure_optimizers([model], 0.1, 1e-3)
    decay, no_decay = opt.param_groups
    assert all(p.dim() >= 2 for p in decay['params']) and all(p.dim() < 2 for p in no_decay['params'])
    assert sum(p.numel() for g in opt.param_groups for p in g['params']) == sum(p.numel() for p in model.parameters())


@needs('attention', 'hook')
def test_gpt2_weights_map_onto_our_modules(tmp_path):
    transformers = pytest.importorskip('transformers', reason='HuggingFace transformers (a test-only tool) is absent')
    safetensors = pytest.importorskip('safetensors.torch', reason='safetensors (comes with transformers) is absent')
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64,
                                                              vocab_size=97)).eval()
    # the official files hold GPT2Model's tensors, without the 'transformer.' prefix
    path = tmp_path / 'tiny.safetensors'
    safetensors.save_file({k: v.contiguous() for k, v in hf.transformer.state_dict().items()}, str(path))
    ours = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=64, vocab_size=97)).eval()
    ours.load_state_dict(from_gpt2_state_dict(read_safetensors(str(path))))
    idx = torch.randint(97, (2, 20))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-4, rtol=0)
    again = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=64, vocab_size=97)).eval()
    again.load_state_dict(from_gpt2_state_dict(hf.state_dict()))  # the LM-head model's names work too
    torch.testing.assert_close(again(idx)[0], ours(idx)[0])


def test_download_fetches_once(tmp_path):
    import functools
    import http.server
    import threading
    served = tmp_path / 'served'
    served.mkdir()
    (served / 'weights.bin').write_bytes(bytes(range(256)) * 4096)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)  # loopback only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}/weights.bin'
        target = tmp_path / 'cache' / 'weights.bin'
        assert download(url, str(target)) == str(target)
        assert target.read_bytes() == (served / 'weights.bin').read_bytes()
        (served / 'weights.bin').unlink()
        assert download(url, str(target)) == str(target)  # cached: not fetched again
        assert sorted(p.name for p in target.parent.iterdir()) == ['weights.bin']  # no .part left
    finally:
        server.shutdown()


def test_failed_download_leaves_nothing(tmp_path):
    target = tmp_path / 'gpt2.safetensors'
    with pytest.raises(RuntimeError, match='run again'):
        download('http://127.0.0.1:9/model.safetensors', str(target))  # nothing listens on port 9
    assert list(tmp_path.iterdir()) == []
