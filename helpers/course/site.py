"""``nextword site``: the course as a static HTML site, to read without running anything.

One page per week (the executed lecture notebook: prose, code, every output and plot), the
week's assignment as students get it, and a syllabus page, all linked to each other, to Colab
and to the kernels' source in the repository. Pages are rendered by nbconvert (the exporter
behind ``jupyter nbconvert --to html``, with JupyterLab's look); the index is a little HTML of
our own. Why not Jupyter Book 2 / MyST: it downloads its site theme at build time and so cannot
build offline (CONTRIBUTING.md, "How we test the course").

Widgets need a kernel, so each one is shown as it stood when the notebook ran: its controls
and values in a grey box, then whatever it displayed (a plot, a table). Figures are written as
PNG files beside the pages (``weekNN/figures/``).
"""

from __future__ import annotations

import functools
import html
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers.course.notebooks import (
    BADGE_CELL_ID,
    COURSE_REF,
    COURSE_REPO,
    ROOT,
    colab_url,
    find_notebooks,
    run_notebook,
)

__all__ = ["Page", "build_site", "widget_snapshot"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
STYLE = """
body.nextword-index { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; color: #222; }
.nextword-nav { font-family: system-ui, sans-serif; padding: .6rem 1rem; margin-bottom: 1rem; background: #f4f6f8;
  border-bottom: 1px solid #dde; display: flex; gap: 1.2rem; flex-wrap: wrap; align-items: center; }
.nextword-nav .colab { background: #f9ab00; color: #222; border-radius: 4px; padding: .1rem .5rem; text-decoration: none; }
.nextword-widget { border: 1px solid #ccd; border-radius: 6px; background: #f7f7fa; padding: .4rem .7rem;
  margin: .3rem 0; font-family: system-ui, sans-serif; font-size: 90%; }
.nextword-widget .control { margin-right: 1.2rem; } .nextword-widget .note { color: #666; font-style: italic; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccd; padding: .25rem .5rem; }
"""


@dataclass
class Page:
    """A page of the site: the week, its file, how many figures, the error outputs shown."""

    week: str
    path: Path
    figures: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reused: bool = False


def build_site(weeks=None, out: str | os.PathLike = "build/site", executed: str | os.PathLike | None = None,
               timeout: int = 600, log=print) -> list[Page]:  # fmt: skip
    """Write the site to ``out``: ``index.html`` and, for every week in ``weeks`` (default: all),
    ``weekNN/index.html``, ``weekNN/figures/`` and ``weekNN/assignment.html``.

    A lecture is executed unless ``executed`` (default ``build/executed/notebooks``, where the notebook
    tests leave their copies) holds a run of the same code; executed copies are kept there.
    Returns the pages; a page whose ``errors`` is not empty shows an error output.
    """
    out = Path(out)
    executed = Path(executed) if executed is not None else ROOT / "build" / "executed" / "notebooks"
    lectures = [p for w in weeks for p in find_notebooks(w)] if weeks else find_notebooks()
    if not lectures:
        raise ValueError(f"no lecture notebook for weeks {weeks!r}: see notebooks/ for the weeks there are")
    out.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(STYLE, encoding="utf-8")
    pages = []
    for path in lectures:
        week = path.name[:6]
        nb, reused = _executed_copy(path, executed, timeout, log)
        page = _write_page(nb, out / week / "index.html", week, path, lecture=True)
        page.reused = reused
        pages.append(page)
        for assignment in find_notebooks(week, kind="assignments"):
            import nbformat

            pages.append(_write_page(nbformat.read(assignment, as_version=4), out / week / "assignment.html", week,
                                     assignment, lecture=False))  # fmt: skip
        log(f"{week}: {page.path.relative_to(out)} ({len(page.figures)} figures{', reused run' if reused else ''})")
    _write_index(out, {p.week for p in pages if p.path.name == "index.html"})
    return pages


def _executed_copy(path: Path, executed: Path, timeout: int, log):
    """The executed notebook: a stored run of the same code if there is one, else a new run."""
    import nbformat

    source = nbformat.read(path, as_version=4)
    stored = executed / path.name
    if stored.exists():
        nb = nbformat.read(stored, as_version=4)
        if _code(nb) == _code(source) and any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
            return nb, True
    log(f"executing {path.relative_to(ROOT)} ...")
    result = run_notebook(path, out=executed, timeout=timeout)
    if result.status != "ok":
        log(f"  {path.name}: {result.error}")
    return nbformat.read(stored, as_version=4), False


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@functools.lru_cache(maxsize=1)
def _site_exporter():
    """nbconvert's HTML exporter with the Markdown cells' maths typeset as MathML when the page
    is written (the feedback pages' :func:`~helpers.grading.feedback.tex_to_mathml`), so that
    formulas show without MathJax: offline, and before any script has loaded. TeX that
    latex2mathml cannot read stays TeX, for the page's MathJax to typeset where it can load."""
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    from helpers.grading.feedback import tex_to_mathml

    class MathMLRenderer(IPythonRenderer):
        def block_math(self, body: str) -> str:
            return tex_to_mathml(body, display=True) or super().block_math(body)

        def inline_math(self, body: str) -> str:
            return tex_to_mathml(body) or super().inline_math(body)

        def latex_environment(self, name: str, body: str) -> str:
            return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True) or super().latex_environment(name, body)

    class SiteExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):  # HTMLExporter's, with the renderer above
            cell = context.get("cell", {})
            renderer = MathMLRenderer(
                escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options,
            )  # fmt: skip
            return MarkdownWithMath(renderer=renderer).render(source)

    return SiteExporter


def _write_page(nb, target: Path, week: str, source: Path, lecture: bool) -> Page:
    import nbformat
    from nbconvert.preprocessors import ExtractOutputPreprocessor, TagRemovePreprocessor

    nb = nbformat.from_dict(nb)
    _snapshot_widgets(nb)
    nb.cells = [c for c in nb.cells if c.get("id") != BADGE_CELL_ID]  # the page's bar has the Colab link
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_code is not None:  # the setup cell: installation plumbing, not the lesson
        first_code.metadata.setdefault("tags", []).append("nextword-setup")
    errors = [f"cell {i}: {o.get('ename', '')}: {o.get('evalue', '')}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]  # fmt: skip
    exporter = _site_exporter()(template_name="lab", embed_images=False)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"nextword-setup"}, enabled=True), enabled=True)
    exporter.register_preprocessor(ExtractOutputPreprocessor(enabled=True), enabled=True)
    resources = {"output_files_dir": "figures" if lecture else "assignment-figures", "unique_key": "output"}
    body, resources = exporter.from_notebook_node(nb, resources=resources)
    nav = _nav(week, source, lecture)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    body = body.replace("</head>", '<link rel="stylesheet" href="../style.css">\n</head>', 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    figures = []
    for name, data in resources.get("outputs", {}).items():
        figure = target.parent / name
        figure.parent.mkdir(parents=True, exist_ok=True)
        figure.write_bytes(data)
        figures.append(figure)
    return Page(week, target, figures, errors)


def _nav(week: str, source: Path, lecture: bool) -> str:
    topic = source.stem.split("_", 1)[1] if lecture and "_" in source.stem else None
    repo = f"{COURSE_REPO}/tree/{COURSE_REF}"
    links = ['<a href="../index.html">&larr; syllabus</a>', f"<strong>{html.escape(week)}</strong>"]
    if lecture:
        kernels = f"helpers/{topic}" if topic and (ROOT / "helpers" / topic).is_dir() else "helpers"
        links.append(f'<a href="{repo}/{kernels}">kernels: <code>{kernels}/</code></a>')
        if find_notebooks(week, kind="assignments"):
            links.append('<a href="assignment.html">the assignment</a>')
    else:
        links.append('<a href="index.html">the lecture</a>')
        links.append(f'<a href="{repo}/{source.relative_to(ROOT).parent.as_posix()}">assignment folder</a>')
    links.append(_badge_html(source))
    return f'<nav class="nextword-nav">{" ".join(links)}</nav>'


def _badge_html(source: Path) -> str:
    return f'<a class="colab" href="{colab_url(source)}">open in Colab</a>'


def _write_index(out: Path, built: set[str]) -> None:
    """The syllabus page: the README's table of weeks, linked to the pages built, then SYLLABUS.md."""
    from nbconvert.filters import markdown2html

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("## Syllabus", 1)[1].lstrip("\n").splitlines()
    table = "\n".join(next(g for k, g in itertools.groupby(after, lambda line: line.startswith("|")) if k))
    table = re.sub(r"\]\(notebooks/(week\d\d)_\w+\.ipynb\)",
                   lambda m: f"]({m.group(1)}/index.html)" if m.group(1) in built else f"]({COURSE_REPO}/blob/{COURSE_REF}/notebooks/{m.group(0)[12:-1]})",
                   table)  # fmt: skip
    table = re.sub(r"\]\(assignments/(week\d\d)/\)",
                   lambda m: f"]({m.group(1)}/assignment.html)" if m.group(1) in built else f"]({COURSE_REPO}/tree/{COURSE_REF}/assignments/{m.group(1)})",
                   table)  # fmt: skip
    syllabus = (ROOT / "SYLLABUS.md").read_text(encoding="utf-8")
    body = markdown2html("# nextword: next-word prediction, from n-grams to transformers\n\n"
                         f"The course as a site: every week's lecture notebook with its outputs and plots, run on a CPU. "
                         f"To run it yourself, open a week in Colab or clone [the repository]({COURSE_REPO}).\n\n"
                         f"## Weeks\n\n{table}\n\n" + syllabus.replace("# Syllabus:", "## Syllabus:", 1))  # fmt: skip
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>nextword</title>'
            '<link rel="stylesheet" href="style.css"></head>\n'
            f'<body class="nextword-index">\n{body}\n</body></html>\n')  # fmt: skip
    (out / "index.html").write_text(page, encoding="utf-8")


# --- widgets, as they stood when the notebook ran --------------------------------------------


def _snapshot_widgets(nb) -> None:
    """Replace every widget output by :func:`widget_snapshot` of it (in place)."""
    import nbformat

    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            controls, shown = widget_snapshot(view["model_id"], state)
            if controls:
                outputs.append(nbformat.v4.new_output("display_data", data={"text/html": controls}))
            outputs.extend(nbformat.from_dict(o) for o in shown)
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)  # nothing left refers to it; nbconvert would load widget JS for it


def widget_snapshot(model_id: str, state: dict) -> tuple[str, list[dict]]:
    """The static form of a saved widget: HTML of its controls and values, and the outputs its
    ``Output`` children held (plots, text). A widget whose state was not saved reads as a note."""
    controls, shown = [], []
    _walk(model_id, state, controls, shown)
    if not controls and not shown:
        return '<div class="nextword-widget"><span class="note">an interactive widget (run the notebook to use it)</span></div>', []
    box = "".join(controls)
    note = '<span class="note">interactive in a live notebook; shown here as it ran</span>'
    return f'<div class="nextword-widget">{box} {note}</div>', shown


def _walk(ref: str, state: dict, controls: list[str], shown: list[dict]) -> None:
    model = state.get(ref.removeprefix("IPY_MODEL_"))
    if model is None:
        return
    name, values = model.get("model_name", ""), model.get("state", {})
    label = html.escape(str(values.get("description", "")))
    if name == "OutputModel":
        shown.extend(values.get("outputs", []))
    elif "children" in values:
        for child in values["children"]:
            _walk(child, state, controls, shown)
    elif name in ("HTMLModel", "HTMLMathModel"):
        controls.append(f'<div class="control">{label} {values.get("value", "")}</div>')
    elif name in ("TextModel", "TextareaModel", "ComboboxModel", "LabelModel"):
        controls.append(f'<span class="control">{label} <code>{html.escape(str(values.get("value", "")))}</code></span>')
    elif "index" in values and "_options_labels" in values:
        index = values["index"]
        chosen = values["_options_labels"][index] if isinstance(index, int) else index
        controls.append(f'<span class="control">{label} <code>{html.escape(str(chosen))}</code></span>')
    elif name == "ButtonModel":
        controls.append(f'<span class="control"><button disabled>{label}</button></span>')
    elif "value" in values:
        controls.append(f'<span class="control">{label} <code>{html.escape(str(values["value"]))}</code></span>')
