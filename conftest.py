"""Pytest setup shared by all tests: offline, headless, reproducible."""

import os

# No test may reach the network: reference libraries must build models from configs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")  # plots render without a screen
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
