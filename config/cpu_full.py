# The paper's method without the demo's recall and answer_match (the default init_from_teacher on)
# on 2x2, 8 layers, on a 2-core CPU (50 minutes with the no-CoT baseline on the whole pipeline's
# compute):
#   python train.py config/cpu_full.py      (writes out-full/report.md)
# Without the demo's two options the student needs ~2,500 steps (0.966 after 2,500, 2026-11-26:
# docs/gpu_runs.md), the emulator ~3,000, and coupling a 10x lower learning rate, since at
# the stages' rate it undid what the emulator had learned (0.75 -> 0.23 before we lowered it).
task = 'mult2x2'
train_size = 7000
test_size = 500
out_dir = 'out-full'
n_layer = 8
n_head = 4
n_embd = 64
batch_size = 128
learning_rate = 3e-3
couple_learning_rate = 3e-4
weight_decay = 0.1
nocot_steps = 2500              # the student's budget; nocot_full gets the whole pipeline's FLOPs
teacher_steps = 800
student_steps = 2500
emulator_steps = 3000
couple_steps = 800
log_interval = 200
device = 'cpu'
