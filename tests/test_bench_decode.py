import bench_decode
from conftest import needs


@needs('attention', 'hook', 'student_write', 'emulator_step')
def test_decode_benchmark_forces_the_tasks_token_counts():
    r = bench_decode.measure('mult3x3', n_layer=2, n_embd=16, n_head=2, examples=3)
    # 3x3: ' #### 0 0 0 1 4 4 <eos>' (10 tokens, with the space before eos) after the prompt;
    # explicit CoT writes ' 0 0 0 0 + 0 0 0 1 2 ( 0 0 0 1 2 ) + 0 0 0 0 2 4 <eos>' (26) first
    assert r['tokens'] == {'nocot': 10, 'explicit': 36, 'implicit': 10}
    assert all(v > 0 for v in r['bs1'].values()) and r['bs1'].keys() == {'nocot', 'explicit', 'implicit'}
