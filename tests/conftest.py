"""Shared test setup: the repo on sys.path, the GPT-2 BPE from the local tiktoken cache."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')
sys.path.insert(0, ROOT)
if 'TIKTOKEN_CACHE_DIR' not in os.environ and os.path.isdir(os.path.join(SHARED, 'tiktoken-cache')):
    os.environ['TIKTOKEN_CACHE_DIR'] = os.path.join(SHARED, 'tiktoken-cache')
