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


def pytest_configure(config):
    """Tag this run, so that its notebook timings are told apart from other runs' (xdist
    workers inherit the variable from the controller)."""
    import uuid

    if not hasattr(config, "workerinput"):
        os.environ["NEXTWORD_TEST_SESSION"] = uuid.uuid4().hex


def pytest_terminal_summary(terminalreporter):
    """Print the wall time and peak memory of every notebook executed in this run."""
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "build" / "notebook-times"
    session = os.environ.get("NEXTWORD_TEST_SESSION")
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("session") == session:
            records.append(record)
    if not records:
        return
    terminalreporter.section("notebook wall times")
    for r in records:
        slowest = max(r.get("cells") or [[None, "", 0.0]], key=lambda c: c[2])  # [index, id, seconds]
        slow = f"  slowest cell {slowest[0]} ({slowest[1]}) {slowest[2]:.1f} s" if slowest[0] is not None else ""
        terminalreporter.write_line(f"{r['notebook']:<48} {r['status']:<6} {r['seconds']:7.1f} s {r['peak_mb']:6d} MB{slow}")
