# The paper's GSM8K recipe (config/gsm8k_gpt2.py) on GPT-2 medium, 24 layers.
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'gsm8k_gpt2.py')).read())
init_from = 'gpt2-medium'
n_layer = 24
n_head = 16
n_embd = 1024
