# 4x4 multiplication from scratch at 12 x 64: the recipe measured on a 2-core CPU (README, "Beyond
# 2x2": coupled 0.978 / 0.992 on the official test file, two seeds, about 4.5 hours a seed), one
# command a stage, since two stages differ from the rest:
#   A="python train.py config/mult4x4.py"
#   $A --stage=teacher --learning_rate=3e-3
#   $A --stage=student --eval_interval=1000
#   $A --stage=emulator --decay_lr=false --eval_interval=4000     # the paper's constant rate
#   $A --stage=couple --eval_interval=1000
# `python train.py config/mult4x4.py` runs every stage in one go, the no-CoT baseline and the eval
# too, with the teacher at 1e-3 and the emulator's rate decayed: not yet measured. On a GPU add
# --compile=graphs (.ci/gpu); not yet measured there either (the old 12 x 256 preset's GPU runs:
# docs/gpu_runs.md).
task = 'mult4x4'
train_size = 200000
test_file = '../shared/data/mult4x4/test.txt'
out_dir = 'out-4x4'
n_layer = 12                   # the paper's depth: the diagonal reads every ~4th CoT token
n_head = 4
n_embd = 64
batch_size = 128
learning_rate = 1e-3
couple_learning_rate = 3e-4    # coupling at the stages' rate undid the emulator (config/cpu_full.py)
weight_decay = 0.1
recall = 4                     # the most tokens between two cells (4x4, 12 layers): all of them recalled
recall_ahead = True            # ... and the token after each cell: without it seed 1 coupled to 0.185 (docs/student.md)
recall_own = True              # ... and its own: 12 x 64 students 0.994 / 0.964 with it, 0.970 / 0.449 without
answer_match = 3.0             # without it the implicit model couples to 0.007 / 0.002 (docs/student.md)
teacher_steps = 2000
student_steps = 3000
emulator_steps = 60000         # at 20,000, cosine-decayed, layer 7's plateau left coupling at 0.005 (docs/emulator_4x4.md)
couple_steps = 6000
nocot_steps = 3000             # the student's budget
nocot_full = False             # the whole pipeline's compute again would double the run
log_interval = 200
