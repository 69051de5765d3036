# The README's main command: the whole method on 2x2 multiplication, on a 2-core CPU.
task = 'mult2x2'
train_size = 7000
test_size = 500
n_layer = 4
n_head = 4
n_embd = 64
batch_size = 128
learning_rate = 5e-3            # high, with a cosine decay to 0 in every stage
nocot_steps = 300
teacher_steps = 600             # 0.98 on seed 0, 0.63 on seed 1: the teacher is the fragile part
student_steps = 300
emulator_steps = 200
couple_steps = 400
log_interval = 100
device = 'cpu'
