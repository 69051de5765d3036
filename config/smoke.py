# The whole pipeline at tiny size, for the tests: seconds on a CPU, accuracy meaningless.
task = 'mult2x2'
train_size = 400
test_size = 40
n_layer = 2
n_head = 2
n_embd = 16
batch_size = 16
nocot_steps = teacher_steps = student_steps = emulator_steps = couple_steps = 4
log_interval = 2
speed_examples = 4
device = 'cpu'
