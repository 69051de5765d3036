# The paper's ablations and each option of the demo that is not in the paper turned off, in one
# table, on the CPU demo's task, model and steps (about 40 minutes on 2 CPU cores):
#   python train.py config/ablate.py               (writes out-ablate/ablation.md)
#   python train.py config/ablate.py --seed=1 --out_dir=out-ablate-1
# One teacher; then per variant a student, an emulator and coupling (ABLATIONS in train.py).
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'cpu_demo.py')).read())
stage = 'ablate'
out_dir = 'out-ablate'
