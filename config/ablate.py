# The paper's ablations in one table, on the CPU demo's task and model (16-18 minutes on 2 CPU cores):
#   python train.py config/ablate.py      (writes out-ablate/ablation.md)
# One teacher; then per variant a student, an emulator and coupling (see ABLATIONS in train.py).
# The student gets 1,000 steps instead of the demo's 300, enough to tell the variants apart.
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'cpu_demo.py')).read())
stage = 'ablate'
out_dir = 'out-ablate'
student_steps = 1000
