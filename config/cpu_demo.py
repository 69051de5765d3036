# The quick start: the whole method on 2x2 multiplication, on a 2-core CPU, in minutes.
#   python train.py config/cpu_demo.py                       (writes out/report.md)
#   python train.py config/cpu_demo.py --nocot_full=true     (adds no-CoT on the whole pipeline's compute)
#   python train.py config/cpu_demo.py --internalize=true    (adds stepwise internalization, 10 more minutes)
task = 'mult2x2'
train_size = 7000               # of the 8,100 2x2 problems; the 1,000 test problems are held out
test_size = 1000
n_layer = 8                     # the diagonal then reads 8 of the 11 cells from sep1 to sep2
n_head = 4
n_embd = 64
batch_size = 128
learning_rate = 3e-3            # every stage: warmup, then a cosine decay to 0
couple_learning_rate = 3e-4     # coupling fine-tunes two trained models: at 3e-3 it undid the emulator
weight_decay = 0.1
teacher_steps = 800
student_steps = 800
emulator_steps = 1000
couple_steps = 600
nocot_steps = 800               # the no-CoT baseline gets the student's budget
nocot_full = False              # True: also no-CoT on the FLOPs of the whole pipeline (7 more minutes)
internalize_steps = 3000        # stepwise internalization, when switched on: 0.2 tokens an epoch is one
internalize_delta = 0.2         # token every 273 steps; at 7 to 55 it failed (docs/internalize.md)
log_interval = 100
device = 'cpu'
# Options not in the paper, kept by the two-seed ablation (README, Ablations; docs/cpu_demo.md):
recall = 1                      # each cell also recalls the token before it: the 8-layer diagonal
                                # skips the tens digit of the first partial product, which the
                                # answer's tens digit is made of
answer_match = 3.0              # the student's answer streams also learn the teacher's
