"""The feedback page renders like the notebook (nbconvert's HTML exporter: Markdown tables,
LaTeX, highlighted code, figures) and still shows no hidden test and runs nothing."""

from __future__ import annotations

import base64
import re
import zlib

import pytest

from helpers.grading.align import PlanCell
from helpers.grading.feedback import PartResult, markdown_html, render_feedback, tex_to_mathml

HIDDEN = "assert softmax(np.array([1e3, 0.0]))[0] == pytest.approx(1.0)  # HIDDEN-CHECK-7f3a"
INSTRUCTIONS = r"""## Part 1: softmax

The softmax turns scores into probabilities, $p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$, and the
cross-entropy of the target $y$ is

$$\mathcal{L} = -\log p_y$$

| model | perplexity |
|-------|-----------:|
| unigram | 962.1 |
| bigram | 310.4 |
"""


def _png() -> str:
    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    raw = chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + raw).decode()


def _page(student_markdown="My notes: <script>alert(5)</script> [x](javascript:alert(1))", hidden_error=None):
    visible = "assert softmax(np.zeros(3)).sum() == 1"
    cells = [
        (PlanCell("markdown", INSTRUCTIONS, "given", shown_source=INSTRUCTIONS), []),
        (PlanCell("code", "def softmax(z): ...", "answer", shown_source="def softmax(z):\n    return np.exp(z) / np.exp(z).sum()"),
         [("", False, {"outputs": [{"output_type": "stream", "name": "stdout", "text": "printed 42\n"},
                                  {"output_type": "display_data", "data": {"image/png": _png(), "text/plain": "<Figure>"}}]})]),
        (PlanCell("markdown", student_markdown, "extra", shown_source=student_markdown), []),
        (PlanCell("code", visible + "\n" + HIDDEN, "test", grade_id="test_softmax", points=2, shown_source=visible),
         [(visible, False, {"outputs": []}), (HIDDEN, True, {"outputs": [], "error": hidden_error})]),
    ]  # fmt: skip
    status = "failed" if hidden_error else "passed"
    parts = [PartResult("test_softmax", 0 if hidden_error else 2, 2, status, "hidden test: a check failed" if hidden_error else "")]
    return render_feedback("s1", "week00", parts[0].points, 2, "graded", "", parts, cells, "2026-12-02T03:00:00+00:00")


def test_feedback_renders_markdown_tables_latex_and_code_like_the_notebook():
    page = _page()
    assert "<table>" in page and "<th>model</th>" in page and re.search(r"<td[^>]*>310.4</td>", page)  # a Markdown table as an HTML table
    assert "jp-RenderedMarkdown" in page and "jp-CodeCell" in page  # nbconvert's notebook markup
    assert "<h2>Part 1: softmax</h2>" in page
    # LaTeX: MathML the browser draws, the TeX beside it (KaTeX's form; MathJax-ready)
    assert '<annotation encoding="application/x-tex">p_i = \\frac{e^{z_i}}{\\sum_j e^{z_j}}</annotation>' in page
    assert '<annotation encoding="application/x-tex">\\mathcal{L} = -\\log p_y</annotation>' in page
    assert re.search(r'<math display="block"[^>]*>', page) and "<mfrac>" in page
    assert '<span class="k">return</span>' in page and ".highlight .k" in page  # highlighted, with pygments' styles
    assert "printed 42" in page and 'src="data:image/png;base64,' in page


def test_feedback_shows_no_hidden_test_and_runs_nothing():
    page = _page(hidden_error={"kind": "failure", "ename": "AssertionError", "evalue": "", "traceback": [HIDDEN]})
    assert "HIDDEN-CHECK-7f3a" not in page and "1e3" not in page
    assert "Hidden tests failed" in page and "hidden test: a check failed" in page
    assert "zeros" in page  # the visible test is shown
    assert "default-src 'none'" in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in page and 'href="javascript:' not in page.lower()


@pytest.mark.parametrize("tex", [r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}"])
def test_maths_that_would_carry_markup_stays_text(tex):
    assert tex_to_mathml(tex) is None
    html = markdown_html(f"see ${tex}$")
    assert "<math" not in html and "<script" not in html and "href=" not in html
    assert f"${tex}$".replace("<", "&lt;").replace(">", "&gt;") in html  # the TeX as text, MathJax-ready


def test_student_markdown_cannot_load_or_embed_anything():
    html = markdown_html('![track](https://example.com/pixel.png) <iframe src="https://example.com"></iframe>\n\n```mermaid\ngraph <b>x</b>\n```')
    assert "<img" not in html and "<iframe" not in html and "<b>x" not in html
    assert "[image: track]" in html
