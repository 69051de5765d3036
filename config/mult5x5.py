# 5x5 multiplication from scratch: the 4x4 recipe (config/mult4x4.py, its stage commands) on the
# longer task, with more steps for the student and coupling. NOT YET RUN.
import os as _os
exec(open(_os.path.join(_os.path.dirname(__file__), 'mult4x4.py')).read())
task = 'mult5x5'
test_file = '../shared/data/mult5x5/test.txt'
out_dir = 'out-5x5'
recall = 6                     # the most tokens between two cells at 12 layers
student_steps = 6000
couple_steps = 6000
