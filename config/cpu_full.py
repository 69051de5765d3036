# The method working on a 2-core CPU (50 minutes with both baselines):
#   python train.py config/cpu_full.py      (writes out-full/report.md)
# The CPU demo's task with an 8-layer teacher, whose diagonal reads 8 of the 11 positions from
# sep1 to sep2 (the 4-layer demo's reads 4 and misses what the answer's tens digit is made of),
# and the steps each stage needed: the student ~2,500 (0.87 after 2,000, 0.96 after 2,500 with
# its MLPs started random; 0.98 after 2,500 and 0.87 after 1,500 started as the identity),
# the emulator ~3,000, and coupling a 10x lower learning rate, since at the stages' rate it
# undid what the emulator had learned (0.75 -> 0.23 before we lowered it).
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'cpu_demo.py')).read())
out_dir = 'out-full'
n_layer = 8
learning_rate = 3e-3
couple_learning_rate = 3e-4
weight_decay = 0.1
nocot_steps = 2500              # the student's budget; nocot_full gets the whole pipeline's FLOPs
teacher_steps = 800
student_steps = 2500
emulator_steps = 3000
couple_steps = 800
log_interval = 200
