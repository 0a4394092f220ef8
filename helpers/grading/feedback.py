"""Per-student feedback as one self-contained HTML page, safe to open.

At the top, a table of parts with points and what went wrong; below, the notebook as graded,
rendered like JupyterLab shows it by nbconvert's HTML exporter (Markdown with tables, LaTeX,
syntax-highlighted code, outputs and figures): instructions, the student's code with its
outputs, and every test with its result. Hidden tests never appear: the notebook handed to
nbconvert is built from the released (visible) source of each test cell, and a hidden check
that failed shows the failure message alone (see :func:`failure_message`), without its code,
its traceback, the student's output during it, or the message of the student's exception.

The page runs no scripts, so LaTeX is typeset ahead of time: each formula becomes MathML
(``latex2mathml``, checked against a list of MathML elements and attributes), which browsers
draw natively, with its TeX kept beside it as the ``application/x-tex`` annotation (the form
KaTeX writes; MathJax reads the TeX). Without ``latex2mathml``, or for TeX it cannot convert,
the formula stays as escaped ``$...$`` text, ready for MathJax.

Everything the student wrote is escaped: Markdown is rendered with raw HTML escaped, outputs
are kept as text and validated PNG images only (never HTML or JavaScript outputs), and the page
carries a Content-Security-Policy that allows no scripts, no network requests and no forms,
only inline styles and ``data:`` images. Sizes are capped before rendering (a Markdown cell,
all Markdown, a code cell).
"""

from __future__ import annotations

import base64
import html
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["PartResult", "failure_message", "markdown_html", "render_feedback"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
MARKDOWN_CELL_CHARS = 20_000
MARKDOWN_TOTAL_CHARS = 200_000
CODE_CELL_CHARS = 50_000

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem} .sub{color:#555;margin-top:0}
table.parts{border-collapse:collapse;width:100%;margin:1rem 0} table.parts td,table.parts th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600} .skip{color:#9a6700;font-weight:600}
.cell{margin:1rem 0;border-left:4px solid #d0d7de;padding-left:.8rem} .cell.test{border-color:#8250df} .cell.answer{border-color:#0969da}
.cell.test.ok{border-color:#1a7f37} .cell.test.bad{border-color:#cf222e} .cell.md{border-color:transparent}
.label{font-size:.8rem;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:.85rem;margin:.3rem 0}
.jp-OutputArea pre{background:#fff;border:1px solid #eee} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] pre{background:#fffbe6}
.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"] pre, pre.err{background:#fff5f5;border:1px solid #ffd7d5}
.notes{background:#fff8c5;padding:.6rem 1rem;border-radius:6px}
.jp-RenderedMarkdown table{border-collapse:collapse;margin:.5rem 0} .jp-RenderedMarkdown th,.jp-RenderedMarkdown td{border:1px solid #d0d7de;padding:.25rem .6rem}
.jp-RenderedMarkdown th{background:#f6f8fa} .jp-RenderedMarkdown code{background:#f6f8fa;padding:.05rem .25rem;border-radius:3px}
math[display=block]{margin:.6rem 0} .highlight pre{background:#f6f8fa}
img{max-width:100%}
"""

@dataclass
class PartResult:
    """The grade of one test cell."""

    grade_id: str
    points: float
    max_points: float
    status: str  # passed | failed | not run
    message: str = ""
    hidden: bool = False
    segments: list = field(default_factory=list)  # [(code, hidden, reply)]
    bonus: bool = False  # points on top of the maximum score


# MathML that browsers draw natively: the elements and attributes latex2mathml writes that
# carry no links, scripts or styles. Anything else makes the formula fall back to TeX text.
_MATHML_TAGS = {"math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt",
                "mroot", "msub", "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mlabeledtr",
                "mstyle", "mpadded", "mphantom", "menclose", "merror", "mfenced", "mprescripts", "mmultiscripts", "none"}  # fmt: skip
_MATHML_ATTRIBUTES = {"display", "stretchy", "fence", "separator", "separators", "lspace", "rspace", "mathvariant", "displaystyle",
                      "scriptlevel", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines", "frame",
                      "framespacing", "width", "height", "depth", "notation", "accent", "accentunder", "minsize", "maxsize",
                      "movablelimits", "symmetric", "largeop", "linethickness", "form", "mathsize", "open", "close",
                      "encoding", "align", "equalrows", "equalcolumns", "voffset", "bevelled"}  # fmt: skip
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


@lru_cache(maxsize=4096)
def tex_to_mathml(tex: str, display: bool = False) -> str | None:
    """``tex`` as a checked MathML element with the TeX as its annotation, or ``None`` when
    latex2mathml is missing or the result holds anything outside the MathML lists above."""
    try:
        from latex2mathml.converter import convert

        root = ET.fromstring(convert(tex, display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - not installed, or TeX it cannot read: the caller shows the TeX
        return None
    for element in root.iter():
        tag = element.tag.removeprefix(_MATHML_NS)
        if tag not in _MATHML_TAGS or any(name not in _MATHML_ATTRIBUTES for name in element.attrib):
            return None
        element.tag = tag
    children = list(root)
    for child in children:
        root.remove(child)
    semantics = ET.SubElement(root, "semantics")
    body = ET.SubElement(semantics, "mrow")
    body.extend(children)
    ET.SubElement(semantics, "annotation", encoding="application/x-tex").text = tex
    root.set("xmlns", "http://www.w3.org/1998/Math/MathML")
    return ET.tostring(root, encoding="unicode", short_empty_elements=False)


@lru_cache(maxsize=1)
def _exporter():
    """One nbconvert HTML exporter per process, with the course's template and safe Markdown."""
    from jinja2 import DictLoader, pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class SafeRenderer(IPythonRenderer):
        """nbconvert's renderer with the student's raw HTML escaped and maths as MathML."""

        def block_mermaidjs(self, code: str) -> str:  # nbconvert would pass the code through unescaped
            return f"<pre><code>{html.escape(code)}</code></pre>"

        def _math(self, tex: str, display: bool, shown: str) -> str:
            return tex_to_mathml(tex, display) or self.escape_html(shown)

        def block_math(self, body: str) -> str:
            return self._math(body, True, f"$${body}$$")

        def inline_math(self, body: str) -> str:
            return self._math(body, False, f"${body}$")

        def latex_environment(self, name: str, body: str) -> str:
            tex = f"\\begin{{{name}}}{body}\\end{{{name}}}"
            return self._math(tex, True, tex)

        def image(self, text: str, url: str, title: str | None = None) -> str:
            if not url.startswith(("data:image/png;base64,", "attachment:")):  # the page loads nothing from anywhere
                return self.escape_html(f"[image: {text or url}]")
            return super().image(text, url, title)

    class FeedbackExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = SafeRenderer(escape=True, allow_harmful_protocols=False, attachments=cell.get("attachments", {}),
                                    exclude_anchor_links=True)  # fmt: skip
            return MarkdownWithMath(renderer=renderer).render(source)

    template = """{%- extends 'lab/base.html.j2' -%}
{% block any_cell %}{{ cell.metadata.get('nextword_before', '') }}{{ super() }}{{ cell.metadata.get('nextword_after', '') }}{% endblock any_cell %}
"""
    log = logging.getLogger("nextword.feedback")  # not traitlets' own: its notes on alt texts are not the grader's business
    log.setLevel(logging.ERROR)
    return FeedbackExporter(extra_loaders=[DictLoader({"feedback.html.j2": template})], template_name="lab", log=log,
                            template_file="feedback.html.j2", exclude_input_prompt=True, exclude_output_prompt=True)  # fmt: skip


@lru_cache(maxsize=1)
def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


def markdown_html(text: str) -> str:
    """Markdown as the feedback page shows it (nbconvert's renderer, raw HTML escaped, maths as
    MathML with its TeX)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text, id="md")])
    body, _ = _exporter().from_notebook_node(nb)
    return body


def failure_message(error: dict, hidden: bool) -> str:
    """What a student may read about a failed test segment."""
    where = "hidden test" if hidden else "test"
    kind, ename, evalue = error.get("kind"), str(error.get("ename", "Error")), str(error.get("evalue", ""))
    if kind == "blank":
        return "not answered yet: an answer cell still raises NotImplementedError"
    if kind == "gone":
        return f"not run: {evalue}"
    if kind == "timeout":
        return f"{where}: stopped: {evalue}"
    if kind == "failure":
        return f"{where}: {evalue}" if evalue else f"{where}: a check failed"
    if kind == "notebook":  # the student's own exception: in a hidden test its message may echo the hidden input
        return f"hidden test: your code raised {ename}" if hidden else f"test: your code raised {ename}: {evalue}"
    return f"hidden test: the test could not use your result ({ename})" if hidden else f"test: {ename}: {evalue}"


def _nb_outputs(reply: dict | None, show_traceback: bool = True) -> list:
    """A cell's recorded outputs as notebook outputs nbconvert can render: text, validated PNG
    images and errors only (never HTML, SVG or JavaScript from the student's process)."""
    from nbformat.v4 import new_output

    if not reply:
        return []
    outputs = []
    for output in reply.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            outputs.append(new_output("stream", name="stderr" if output.get("name") == "stderr" else "stdout", text=str(output.get("text", ""))))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            png = data.get("image/png")
            if isinstance(png, str):
                try:
                    if base64.b64decode(png, validate=True)[:8] == b"\x89PNG\r\n\x1a\n":
                        outputs.append(new_output("display_data", data={"image/png": png, "text/plain": "figure"}))
                        continue
                except ValueError:
                    pass
            outputs.append(new_output("display_data", data={"text/plain": str(data.get("text/plain", ""))}))
    error = reply.get("error")
    if error:
        ename, evalue = str(error.get("ename", "Error")), str(error.get("evalue", ""))
        lines = [str(line) for line in error.get("traceback") or []] if show_traceback else []
        outputs.append(new_output("error", ename=ename, evalue=evalue, traceback=lines or [f"{ename}: {evalue}"]))
    return outputs


def render_feedback(
    student_id: str,
    assignment: str,
    score: float,
    max_score: float,
    status: str,
    message: str,
    parts: list[PartResult],
    cells: list[tuple],  # (plan cell, replies: list of (code, hidden, reply))
    timestamp: str,
    bonus: tuple[float, float] = (0.0, 0.0),
) -> str:
    """The feedback page as an HTML string; ``bonus`` is (bonus points, maximum bonus)."""
    esc = html.escape
    rows = []
    for part in parts:
        cls = {"passed": "pass", "failed": "fail"}.get(part.status, "skip")
        rows.append(
            f"<tr><td>{esc(part.grade_id)}{' (bonus)' if part.bonus else ''}</td><td>{part.points:g} / {part.max_points:g}</td>"
            f'<td class="{cls}">{esc(part.status)}</td><td>{esc(part.message)}</td></tr>'
        )
    body = [
        f"<h1>{esc(assignment)}: {score:g} / {max_score:g} points"
        + (f" + {bonus[0]:g} / {bonus[1]:g} bonus" if bonus[1] else "")
        + "</h1>",
        f'<p class="sub">Student {esc(student_id)} &middot; graded {esc(timestamp)} &middot; status: {esc(status)}</p>',
    ]
    if message:
        body.append(f'<div class="notes"><strong>Notes:</strong> {esc(message)}</div>')
    body.append('<table class="parts"><tr><th>Part</th><th>Points</th><th>Result</th><th>Details</th></tr>')
    body.extend(rows)
    body.append("</table><h2>Your notebook as graded</h2>")
    import nbformat

    part_of = {p.grade_id: p for p in parts}
    markdown_left = MARKDOWN_TOTAL_CHARS
    shown = []  # the notebook nbconvert renders: visible sources only, our own HTML around cells

    def add(cell, before: str = "", after: str = "") -> None:
        cell.id = f"cell-{len(shown)}"
        cell.metadata = {"nextword_before": before, "nextword_after": after}
        shown.append(cell)

    for cell, runs in cells:
        if cell.cell_type != "code":
            text = cell.shown_source
            if cell.role != "given" and len(text) > min(MARKDOWN_CELL_CHARS, markdown_left):  # the student's: capped before rendering
                cut = text[: max(min(MARKDOWN_CELL_CHARS, markdown_left), 0)]
                add(nbformat.v4.new_markdown_cell(""), '<div class="cell md">', f'<pre>{esc(cut)}</pre><p class="skip">[... this text cell is too long to show in full ...]</p></div>')
                markdown_left -= len(cut)
                continue
            if cell.role != "given":
                markdown_left -= len(text)
            add(nbformat.v4.new_markdown_cell(text), '<div class="cell md">', "</div>")
            continue
        if cell.role == "test":
            part = part_of.get(cell.grade_id)
            ok = part is not None and part.status == "passed"
            verdict = f"{part.points:g} / {part.max_points:g} {'bonus ' if part.bonus else ''}points" if part else ""
            outputs, notes = [], []
            for _code, hidden, reply in runs:
                if hidden:
                    if reply is None:
                        notes.append('<p class="skip">Hidden tests: not run.</p>')
                    elif reply.get("error"):
                        notes.append(f'<p class="fail">Hidden tests failed:</p><pre class="err">{esc(failure_message(reply["error"], True))}</pre>')
                    else:
                        notes.append('<p class="pass">Hidden tests passed.</p>')
                elif reply is None:
                    notes.append('<p class="skip">Not run.</p>')
                else:
                    outputs.extend(_nb_outputs(reply))
            code = nbformat.v4.new_code_cell(cell.shown_source, outputs=outputs)
            add(code, f'<div class="cell test {"ok" if ok else "bad"}"><div class="label">test {esc(cell.grade_id or "")}: {verdict}</div>',
                "".join(notes) + "</div>")  # fmt: skip
        else:
            kind = "answer" if cell.role == "answer" else "code"
            label = {"answer": "your answer", "extra": "your cell", "given": "given code"}[cell.role]
            source = cell.shown_source if len(cell.shown_source) <= CODE_CELL_CHARS else cell.shown_source[:CODE_CELL_CHARS] + "\n[... cut: cell too long ...]"
            reply = runs[0][2] if runs else None
            add(nbformat.v4.new_code_cell(source, outputs=_nb_outputs(reply)), f'<div class="cell {kind}"><div class="label">{label}</div>',
                ('<p class="skip">Not run.</p>' if reply is None else "") + "</div>")  # fmt: skip
    notebook = nbformat.v4.new_notebook(cells=shown, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"}})  # fmt: skip
    rendered, _ = _exporter().from_notebook_node(notebook)
    body.append(rendered)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><meta name="referrer" content="no-referrer">'
        f"<title>{esc(assignment)} feedback: {esc(student_id)}</title><style>{_CSS}{_pygments_css()}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
