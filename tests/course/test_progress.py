"""Progress bars leave text, not widget references, in a saved notebook (issue 20: reopened
notebooks showed "model not found" boxes where the bars had been)."""

from __future__ import annotations

import nbformat
import pytest

from helpers.course.notebooks import run_notebook

WIDGET = "application/vnd.jupyter.widget-view+json"

CELLS = {
    "plain": "from tqdm.auto import tqdm as plain_tqdm\nfor _ in plain_tqdm(range(3), desc='plain'):\n    pass",
    "train": (
        "import torch\nfrom helpers.course import train_loop\n"
        "model = torch.nn.Linear(2, 1)\nbatch = (torch.ones(4, 2), torch.zeros(4, 1))\n"
        "history = train_loop(model, [batch], lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(),\n"
        "                     torch.optim.SGD(model.parameters(), lr=0.1), steps=20, desc='fitting')\n"
        "print(len(history.loss), 'steps')"
    ),
    "gone": "from helpers.course.progress import tqdm\nfor _ in tqdm(range(5), desc='transient', leave=False):\n    pass",
    "stopped": "for i in tqdm(range(10), desc='stopped early'):\n    if i == 3:\n        break",
    "manual": "with tqdm(total=4, desc='manual') as bar:\n    for _ in range(4):\n        bar.update()",
    "trange": "from helpers.course.progress import trange\nprint(sum(trange(4, desc='trange')))",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progress")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "bars.ipynb")
    result = run_notebook(folder / "bars.ipynb", out=folder / "out", timeout=120)
    assert result.status == "ok", result.error
    done = nbformat.read(folder / "out" / "bars.ipynb", as_version=4)
    return dict(zip(CELLS, done.cells, strict=True))


def _texts(cell):
    return [o.get("data", {}).get("text/plain", o.get("text", "")) for o in cell.outputs]


def test_plain_tqdm_leaves_a_widget_reference_in_the_notebook(executed):
    """The cause, shown: tqdm.auto in a kernel saves a reference to a widget model only."""
    assert any(WIDGET in o.get("data", {}) for o in executed["plain"].outputs)


@pytest.mark.parametrize("name", [n for n in CELLS if n != "plain"])
def test_course_bars_leave_no_widget_reference(executed, name):
    outputs = executed[name].outputs
    assert not [o for o in outputs if WIDGET in o.get("data", {})], f"{name}: {outputs}"


def test_a_finished_bar_is_the_terminal_line(executed):
    (line,) = [t for t in _texts(executed["train"]) if "fitting" in t]
    assert "100%" in line and "20/20" in line and "loss=" in line
    assert "20 steps" in "".join(_texts(executed["train"]))
    (line,) = [t for t in _texts(executed["manual"]) if "manual" in t]
    assert "4/4" in line
    assert any("trange" in t and "4/4" in t for t in _texts(executed["trange"]))


def test_a_bar_that_asked_to_go_leaves_nothing_visible(executed):
    assert all(t.strip() == "" for t in _texts(executed["gone"]))


def test_an_unfinished_bar_says_where_it_stopped(executed):
    (line,) = [t for t in _texts(executed["stopped"]) if "stopped early" in t]
    assert "3/10" in line or "4/10" in line
