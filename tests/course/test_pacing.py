"""Per-cell timing of a notebook run (lecture pacing, issue 20): the runner reads every code
cell's run time from the timestamps nbclient records, and ``nextword run --cells`` lists the
slowest cells. Checked on a tiny notebook whose one slow cell sleeps."""

from __future__ import annotations

import warnings

import nbformat
import pytest

from helpers.course import notebooks
from helpers.course.cli import main
from helpers.course.notebooks import (
    CellTime,
    RunResult,
    cell_times,
    format_cell_times,
    run_notebook,
)
from tests.course.test_notebooks import PacingWarning, _check_pacing

SLEEP_S = 1.5


def _tiny(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny notebook")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def slow_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pacing")
    path = _tiny(folder / "tiny.ipynb", "x = 1", f"# sleeps\nimport time\ntime.sleep({SLEEP_S})", "print(x + 1)")
    return run_notebook(path, out=folder / "executed", plots=False), folder


def test_every_code_cell_is_timed_and_the_sleep_is_the_slowest(slow_run):
    result, _ = slow_run
    assert result.status == "ok", result.error
    assert [c.index for c in result.cells] == [1, 2, 3]  # notebook positions, the Markdown cell is 0
    slowest = result.slowest(1)[0]
    assert slowest.index == 2 and slowest.first_line == "import time"  # comments are skipped
    assert SLEEP_S - 0.05 <= slowest.seconds < SLEEP_S + 5  # the kernel's own stamps: no start-up cost
    assert all(c.seconds < SLEEP_S / 2 for c in result.cells if c.index != 2)
    assert sum(c.seconds for c in result.cells) <= result.seconds  # the run also starts a kernel


def test_times_are_read_back_from_the_executed_copy(slow_run):
    result, folder = slow_run
    again = cell_times(nbformat.read(folder / "executed" / "tiny.ipynb", as_version=4))
    assert again == result.cells


def test_cells_after_an_error_are_not_timed(tmp_path):
    path = _tiny(tmp_path / "broken.ipynb", "x = 1", "raise ValueError('stop')", "print(x)")
    result = run_notebook(path, plots=False)
    assert result.status == "error" and "stop" in result.error
    assert 3 not in [c.index for c in result.cells]


def test_the_report_lists_the_slowest_cells_and_marks_the_budget(slow_run):
    result, _ = slow_run
    table = format_cell_times(result, top=2, budget=1.0)
    lines = table.splitlines()
    assert lines[0].startswith("tiny.ipynb: 3 code cells ran")
    assert len(lines) == 2 + 2  # header, column names, the two slowest cells
    assert "import time" in lines[2] and "over budget" in lines[2]
    assert "over budget" not in lines[3]


def test_nextword_run_cells_prints_the_report(slow_run, monkeypatch, capsys):
    result, folder = slow_run
    monkeypatch.setattr(notebooks, "find_notebooks", lambda which, kind, root=None: [folder / "tiny.ipynb"])
    monkeypatch.setattr(notebooks, "run_notebook", lambda path, out, timeout: result)  # ran once already
    assert main(["run", "week00", "--cells", "1"]) == 0
    out = capsys.readouterr().out
    assert "slowest cell" in out and "(#2)" in out  # the one-line summary in the table
    report = out[out.index("tiny.ipynb: 3 code cells ran"):].splitlines()
    assert len(report) == 3 and "import time" in report[2]


def _fake(*seconds, total=None):
    cells = [CellTime(i + 1, f"c{i}", s, "pass") for i, s in enumerate(seconds)]
    return RunResult("fake.ipynb", "ok", total if total is not None else sum(seconds) + 5, None, "", cells)


def test_the_notebook_tests_warn_over_budget_and_fail_on_gross_excess():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_pacing(_fake(1.0, 29.0), "notebooks")  # inside the budget: silent
    with pytest.warns(PacingWarning, match=r"fake.ipynb cell 2 \(c1: pass\) took 45 s"):
        _check_pacing(_fake(1.0, 45.0), "notebooks")
    with pytest.warns(PacingWarning), pytest.raises(AssertionError, match=r"cell 1 \(c0\) 160 s"):
        _check_pacing(_fake(160.0), "notebooks")
    with pytest.raises(AssertionError, match="cells took 200 s"):
        _check_pacing(_fake(20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0), "solutions")
    _check_pacing(_fake(*[20.0] * 10), "notebooks")
    with pytest.warns(PacingWarning, match="600 s of its 620 s passed outside its cells"):
        _check_pacing(_fake(20.0, total=620.0), "notebooks")  # a stalled runner is named, not failed


def test_kernel_channels_are_polled_in_short_slices():
    """jupyter/nbclient#312: one long poll can sleep through a reply that has arrived. The
    runner's client polls every POLL_SLICE_S seconds: a message that a slice finds is returned
    at once, and Empty is raised only when the whole timeout has passed."""
    import asyncio
    import time
    from queue import Empty

    from helpers.course import notebooks

    class Base:
        async def async_start_new_kernel_client(self):
            return self.kc

    class Channel:
        def __init__(self, ready_after):
            self.calls, self.ready_after = [], ready_after

        async def get_msg(self, timeout=None):
            self.calls.append(timeout)
            if len(self.calls) > self.ready_after:
                return {"msg": len(self.calls)}
            await asyncio.sleep(timeout)
            raise Empty

    class KC:
        shell_channel, iopub_channel = Channel(ready_after=2), Channel(ready_after=10**6)

    client = notebooks._sliced_poll_client(Base)()
    client.kc = KC()
    notebooks.POLL_SLICE_S, old = 0.05, notebooks.POLL_SLICE_S
    try:
        kc = asyncio.run(client.async_start_new_kernel_client())
        assert asyncio.run(kc.shell_channel.get_msg(timeout=600)) == {"msg": 3}
        assert all(t <= 0.05 for t in KC.shell_channel.calls)
        start = time.monotonic()
        try:
            asyncio.run(kc.iopub_channel.get_msg(timeout=0.3))
        except Empty:
            pass
        else:
            raise AssertionError("a poll that never finds a message must end with Empty")
        assert 0.25 <= time.monotonic() - start < 2
    finally:
        notebooks.POLL_SLICE_S = old
