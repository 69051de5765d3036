"""Decoding speed for the report: the ways of answering timed in turns, and CUDA-graph replay."""
import torch

from tools.evaluate import answers


def graphed(generate):
    """generate(P, rows) recorded once per shape as one CUDA graph, then replayed: at batch 1
    eager decoding is bound by the host's Python and kernel launches (docs/speed.md), a replay by the
    GPU. generate must never wait on the GPU (no early stop). Should recording fail, it stays eager."""
    graphs = {}

    def run(P, rows):
        key = (tuple(P.shape), tuple(rows.shape))
        if key not in graphs:
            static = (P.clone(), rows.clone())
            # autocast's cache of cast weights would be freed under a recorded graph: off here
            with torch.autocast('cuda', dtype=torch.bfloat16, cache_enabled=False):
                try:
                    side = torch.cuda.Stream()
                    side.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(side):
                        generate(*static)  # warm-up: no lazy initialisation while recording
                    torch.cuda.current_stream().wait_stream(side)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        out = generate(*static)
                    graphs[key] = (graph, static, out)
                except RuntimeError as e:
                    print(f'CUDA graph recording failed, decoding stays eager: {str(e).splitlines()[0]}')
                    graphs[key] = None
        if graphs[key] is None:
            return generate(P, rows)
        graph, static, out = graphs[key]
        static[0].copy_(P)
        static[1].copy_(rows)
        graph.replay()
        return out  # overwritten by the next replay: answers() reads it at once

    return run


def speeds(cfg, D, gens):
    """name -> (examples/s at batch size 1, the paper's setting, and at eval_batch_size). The
    ways of answering take turns, example by example at batch 1 and in three rounds over the test
    set at the large batch, so a change in the machine's load (a shared CPU) reaches them alike.
    Called after accuracy(), whose pass over the test set warms up (compilation, caches)."""
    n, N, rounds = min(cfg.speed_examples, len(D.test['nocot'])), len(D.test['nocot']), 3
    s1, sb = dict.fromkeys(gens, 0.0), dict.fromkeys(gens, 0.0)
    for generate in gens.values():  # untimed: batch 1 is a new shape (compiled models compile it here)
        answers(cfg, D, generate, rows=[0], batch_size=1)
    for i in range(n):
        for name, generate in gens.items():
            s1[name] += answers(cfg, D, generate, rows=[i], batch_size=1)[1]
    for _ in range(rounds):
        for name, generate in gens.items():
            sb[name] += answers(cfg, D, generate)[1]
    return {name: (n / s1[name], rounds * N / sb[name]) for name in gens}
