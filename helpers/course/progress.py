"""Progress bars for the course: ``tqdm.auto``, with one change that matters in notebooks.

In a Jupyter kernel ``tqdm.auto`` draws its bar as an ipywidget. The notebook file then keeps
only a reference to the widget's model (``application/vnd.jupyter.widget-view+json``), and
JupyterLab saves the models themselves only with "Save Widget State Automatically" switched on
(off by default). A bar closed with ``leave=False`` has no model left at all. Reopen the saved
notebook, and every progress bar is an "Error displaying widget: model not found" box.

:class:`NotebookProgress` is tqdm's notebook bar while the loop runs; when it closes it replaces
its own output (through the display id it was shown with) by the plain-text line a terminal
would show (``training: 100%|##########| 600/600 [00:31<00:00, 19.3it/s, loss=1.702]``), or by
nothing for ``leave=False``. What is saved is text: it reads the same in JupyterLab, Colab,
VS Code, nbconvert and on GitHub, with or without a kernel. Outside a notebook :data:`tqdm`
is ``tqdm.auto``'s own (console) class.
"""

from __future__ import annotations

from tqdm.auto import tqdm as _auto_tqdm
from tqdm.notebook import tqdm_notebook

__all__ = ["NotebookProgress", "tqdm", "trange"]


class NotebookProgress(tqdm_notebook):
    """tqdm's notebook widget while it runs; a line of text in the saved notebook once done."""

    def __init__(self, *args, **kwargs):
        show = kwargs.pop("display", True)
        self._handle = None
        self._frozen = False
        super().__init__(*args, display=False, **kwargs)
        if not self.disable and show and self.delay <= 0:
            self._show()

    def _show(self) -> None:
        from IPython.display import display

        self._handle = display(self.container, display_id=True)
        self.displayed = True

    def display(self, msg=None, pos=None, close=False, bar_style=None, check_delay=True):
        if check_delay and self.delay > 0 and not self.displayed and not self._frozen:
            self._show()  # a delayed bar appears with a display id too
        return super().display(msg, pos, close=close, bar_style=bar_style, check_delay=False)

    def close(self):
        if self._frozen:
            return
        was_disabled = self.disable
        super().close()
        if not was_disabled:
            self._freeze()

    def _freeze(self) -> None:
        """Swap the widget for text, then let the widget's model go."""
        self._frozen = True
        if self._handle is None:
            return
        unfinished = bool(self.total) and self.n < self.total  # an error or an interrupted loop
        text = self.format_meter(**{**self.format_dict, "ncols": None}) if self.leave or unfinished else ""
        self._handle.update({"text/plain": text}, raw=True)
        self.container.close()


def _in_notebook() -> bool:
    return isinstance(_auto_tqdm, type) and issubclass(_auto_tqdm, tqdm_notebook)


tqdm = NotebookProgress if _in_notebook() else _auto_tqdm


def trange(*args, **kwargs):
    """``tqdm(range(*args), **kwargs)``."""
    return tqdm(range(*args), **kwargs)
