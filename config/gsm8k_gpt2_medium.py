# The paper's GSM8K recipe (config/gsm8k_gpt2.py) on GPT-2 medium, 24 layers.
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'gsm8k_gpt2.py')).read())
init_from = 'gpt2-medium'
n_layer = 24
n_head = 16
n_embd = 1024
cache_states = False           # the teacher's states of 385k examples would take 38 GB (24 x 1024 floats each)
