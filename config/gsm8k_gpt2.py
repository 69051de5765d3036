# The paper's GSM8K recipe on GPT-2 small: every model starts from GPT-2, AdamW lr 5e-5, weight
# decay 0.01, batch 32, constant LR, teacher 15 epochs, the other stages up to 40 epochs with
# each stage's checkpoint picked on validation every epoch. Needs a GPU, the internet once
# (GPT-2's weights) and GSM8K-Aug (the README's presets table says where to get it). One epoch of GSM8K-Aug is about 12,050 steps.
train_file = 'data/gsm8k_aug/train.txt'
test_file = '../shared/data/gsm8k/test.txt'
valid_file = '../shared/data/gsm8k/valid.txt'   # each stage keeps its best checkpoint on it
init_from = 'gpt2'
n_layer = 12
n_head = 12
n_embd = 768
init_from_teacher = False      # as in the paper: student and emulator start from GPT-2 too
mixture = True                 # several reasoning paths per question: the mixture emulator
learning_rate = 5e-5
weight_decay = 0.01
batch_size = 32
decay_lr = False
warmup_steps = 0
nocot_steps = 12050 * 15
nocot_full = False
teacher_steps = 12050 * 15
student_steps = 12050 * 40
emulator_steps = 12050 * 40
couple_steps = 12050 * 40
eval_interval = 12050
eval_batch_size = 64
ckpt_interval = 2000
log_interval = 100
