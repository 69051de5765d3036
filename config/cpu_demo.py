# The README's main command: the whole method on 2x2 multiplication, on a 2-core CPU.
task = 'mult2x2'
train_size = 7000
test_size = 500
n_layer = 4
n_head = 4
n_embd = 64
batch_size = 128
learning_rate = 3e-3
device = 'cpu'
