"""The course-assignment kit: markers, the student copy, and the autograder's promise."""
import os
import subprocess
import sys

import pytest

from conftest import BLOCKS, ROOT, SHARED

import make_student_copy as kit


def test_every_block_is_marked_once():
    assert kit.BLOCKS == BLOCKS
    sources = ''.join(open(os.path.join(ROOT, f)).read() for f in ('gpt.py', 'teacher.py', 'student.py',
                                                                      'emulator.py', 'train.py'))
    for block in BLOCKS:
        assert sources.count(f'### BEGIN SOLUTION {block}\n') == 1, block
    assert sources.count('### END SOLUTION\n') == len(BLOCKS)


def test_strip_removes_only_the_chosen_blocks():
    text = ('def f():\n    ### BEGIN SOLUTION diagonal\n    return 1\n    ### END SOLUTION\n\n'
            'def g():\n    ### BEGIN SOLUTION hook\n    return 2\n    ### END SOLUTION\n')
    out = kit.strip(text, ('diagonal',))
    assert 'return 1' not in out and 'return 2' in out and 'SOLUTION' not in out
    scope = {}
    exec(out, scope)
    with pytest.raises(NotImplementedError, match='write the diagonal block'):
        scope['f']()
    assert scope['g']() == 2


def test_student_copy_fails_exactly_the_tests_of_the_removed_blocks(tmp_path):
    kit.make(str(tmp_path / 'main'))
    if os.path.isdir(SHARED):  # the copy finds ../shared as the repository does
        os.symlink(SHARED, tmp_path / 'shared')

    # the unit tests of the five files with blocks; test_data.py runs no block, and test_train.py's
    # pipeline tests (each a few seconds of subprocess) are marked with every block they run
    def pytest_in_copy(*args):
        return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *args, 'tests',
                               '--ignore=tests/test_data.py', '--ignore=tests/test_train.py'],
                              cwd=tmp_path / 'main', capture_output=True, text=True, timeout=600)
    marked = {s for s in pytest_in_copy('--collect-only', '-m', ' or '.join(BLOCKS)).stdout.splitlines() if '::' in s}
    p = pytest_in_copy('-vv')  # one line per test (-q in pytest_in_copy takes one v back)
    status = {w[0]: w[1] for w in map(str.split, p.stdout.splitlines()) if len(w) > 1 and '::' in w[0]}
    failed = {t for t, s in status.items() if s in ('FAILED', 'ERROR')}
    # a test that skips (the HuggingFace parity test without transformers) runs no block here
    expected = marked - {t for t, s in status.items() if s == 'SKIPPED'}
    assert len(expected) > 15 and failed == expected, (sorted(failed ^ expected), p.stdout[-3000:])
    assert ' passed' in p.stdout.splitlines()[-1]  # and every other test passes
