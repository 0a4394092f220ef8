"""Pytest setup shared by all tests: offline, headless, reproducible."""

import os

# No test may reach the network: reference libraries must build models from configs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")  # plots render without a screen
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest -n auto already runs one worker per core; more threads per worker (and per notebook
# kernel, which inherits this) only contend for the same cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_sessionstart(session):
    """Forget notebook timings of earlier runs (the controller only, not xdist workers)."""
    import shutil
    from pathlib import Path

    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(Path(__file__).parent / "build" / "notebook-times", ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """Print the wall time and peak memory of every notebook executed in this run."""
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "build" / "notebook-times"
    if not folder.is_dir():
        return
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    if not records:
        return
    terminalreporter.section("notebook wall times")
    for r in records:
        terminalreporter.write_line(f"{r['notebook']:<48} {r['status']:<6} {r['seconds']:7.1f} s {r['peak_mb']:6d} MB")
