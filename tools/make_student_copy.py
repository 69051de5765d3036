"""A course assignment from this repository: copy it, and replace every block between
`### BEGIN SOLUTION name` and `### END SOLUTION` by `raise NotImplementedError`.

    python tools/make_student_copy.py DEST                      # all six blocks
    python tools/make_student_copy.py DEST diagonal coupling    # only these

The tests are the autograder: each test is marked with the blocks it exercises, so in the
student copy exactly the tests of the removed blocks fail (`python -m pytest -q tests`).
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKS = ('attention', 'hook', 'diagonal', 'student_write', 'emulator_step', 'coupling')
BEGIN = re.compile(r'^(\s*)### BEGIN SOLUTION (\w+)\s*$')
END = '### END SOLUTION'
TEACHER_ONLY = ('tools/make_student_copy.py', 'tests/test_assignment.py')  # the kit is not handed out


def strip(text, blocks):
    """text with the named blocks replaced and every marker line removed."""
    out, removing = [], None
    for line in text.splitlines(keepends=True):
        begin = BEGIN.match(line)
        if begin:
            indent, name = begin.groups()
            assert name in BLOCKS, f'unknown solution block {name!r}'
            if name in blocks:
                removing = name
                out.append(f"{indent}raise NotImplementedError('assignment: write the {name} block')\n")
        elif line.strip() == END:
            removing = None
        elif removing is None:
            out.append(line)
    assert removing is None, f'### BEGIN SOLUTION {removing} has no {END}'
    return "".join(out)


def repo_files():
    try:
        out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return [f for f in out.split() if os.path.isfile(os.path.join(ROOT, f))]  # not one deleted since
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but build output
        skip = {'.git', '.venv', '__pycache__', '.pytest_cache'}
        return [os.path.relpath(os.path.join(d, f), ROOT) for d, dirs, files in os.walk(ROOT)
                for f in files if not skip & set(os.path.relpath(d, ROOT).split(os.sep))]


def make(dest, blocks=BLOCKS):
    for rel in repo_files():
        if rel in TEACHER_ONLY:
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        if rel.endswith('.py'):
            with open(os.path.join(ROOT, rel), encoding='utf-8') as f:
                text = strip(f.read(), blocks)
            with open(os.path.join(dest, rel), 'w', encoding='utf-8') as f:
                f.write(text)
        else:
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    chosen = tuple(sys.argv[2:]) or BLOCKS
    unknown = set(chosen) - set(BLOCKS)
    if unknown:
        sys.exit(f'error: unknown blocks {sorted(unknown)}; choose from {", ".join(BLOCKS)}')
    make(sys.argv[1], chosen)
    print(f'student copy in {sys.argv[1]}, without: {", ".join(chosen)}')
