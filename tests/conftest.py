"""Shared test setup: the repo and tools/ on sys.path, the GPT-2 BPE from the local tiktoken cache."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tools'))  # the benchmarks, probes and the kit, which tests also check
if 'TIKTOKEN_CACHE_DIR' not in os.environ and os.path.isdir(os.path.join(SHARED, 'tiktoken-cache')):
    os.environ['TIKTOKEN_CACHE_DIR'] = os.path.join(SHARED, 'tiktoken-cache')

BLOCKS = ('attention', 'hook', 'diagonal', 'student_write', 'emulator_step', 'coupling')


def pytest_configure(config):
    for block in BLOCKS:  # the autograder: tests marked with the solution blocks they exercise
        config.addinivalue_line('markers', f'{block}: exercises the `{block}` solution block')


def needs(*blocks):
    """Mark a test with the solution blocks it runs (all of them: needs())."""
    import pytest
    def mark(test):
        for block in blocks or BLOCKS:
            test = getattr(pytest.mark, block)(test)
        return test
    return mark
