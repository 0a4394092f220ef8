"""`nextword site` writes the course as static HTML: a syllabus page, and each week with its
plots, outputs, widgets as they ran, and links to its kernels and assignment."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat
import pytest

from helpers.course import site
from helpers.course.cli import main
from helpers.course.notebooks import ROOT

pytest.importorskip("nbconvert")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a":
            self.links.append(attrs.get("href", ""))

    def handle_data(self, data):
        self.text.append(data)


def _parse(path):
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def week0(tmp_path_factory):
    """The site for week 0, reusing the notebook tests' executed copy when it is current."""
    out = tmp_path_factory.mktemp("site")
    assert main(["site", "0", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_the_syllabus_page_links_the_weeks_built(week0):
    index = _parse(week0 / "index.html")
    assert "week00/index.html" in index.links and "week00/assignment.html" in index.links
    assert any(link.startswith("https://github.com/") and "notebooks/week01" in link for link in index.links), (
        "weeks not built link to the repository")
    assert "what each week teaches" in " ".join(index.text)  # SYLLABUS.md is on the page


@pytest.mark.slow
def test_the_week_page_has_its_figures_and_no_error(week0):
    page = week0 / "week00" / "index.html"
    html = page.read_text(encoding="utf-8")
    parsed = _parse(page)
    figures = [src for src in parsed.images if src.startswith("figures/")]
    assert len(figures) >= 2, "week 0 draws a bar chart and a softmax plot (the widget's)"
    for src in figures:
        data = (page.parent / src).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, src
    assert not [src for src in parsed.images if src.startswith("data:")], "figures are files beside the page"
    assert "Traceback (most recent call last)" not in html  # and `main` returned 0: no error output
    text = " ".join(parsed.text)
    assert "softmax" in text and "device: " in text  # prose and outputs
    assert "COURSE_REPO = os.environ" not in html, "the setup cell's code is left out of the page"
    assert "widget-view+json" not in html and "temperature" in html and "nextword-widget" in html
    assert "../index.html" in parsed.links and "assignment.html" in parsed.links
    assert any(link.endswith("/helpers") or "/helpers/" in link for link in parsed.links), "a link to the kernels"
    assert any("colab.research.google.com" in link for link in parsed.links)


@pytest.mark.slow
def test_the_maths_is_mathml_written_into_the_page(week0):
    """Formulas show without MathJax (offline, before any script): week 0's TeX is MathML in
    the page, its TeX kept as the annotation, and no convertible formula is left as $...$."""
    pytest.importorskip("latex2mathml")
    html = (week0 / "week00" / "index.html").read_text(encoding="utf-8")
    formulas = re.findall(r"<math[^>]*>.*?</math>", html, re.S)
    assert len(formulas) >= 5, "week 0 writes softmax and cross-entropy in TeX"
    assert all('encoding="application/x-tex"' in f for f in formulas)
    assert any("<mfrac>" in f for f in formulas) and any('display="block"' in f for f in formulas)
    prose = re.sub(r"<math.*?</math>|<pre.*?</pre>|<code.*?</code>|<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r"\$(?=[^$\s])[^$<]*\\[a-z]+[^$<]*\$", prose), "TeX left unconverted"


@pytest.mark.slow
def test_the_assignment_page_is_the_student_version(week0):
    html = (week0 / "week00" / "assignment.html").read_text(encoding="utf-8")
    assert "YOUR CODE HERE" in html and "BEGIN SOLUTION" not in html


def test_a_page_with_an_error_output_is_reported(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("setup"), nbformat.v4.new_code_cell("1 / 0")]
    nb.cells[1].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    page = site._write_page(nb, tmp_path / "week00" / "index.html", "week00", ROOT / "notebooks" / "week00_setup.ipynb",
                            lecture=True)  # fmt: skip
    assert page.errors == ["cell 1: ZeroDivisionError: division by zero"]


def test_a_widget_is_shown_as_it_ran():
    """An interact() box: its slider's value, then the plot its Output child held."""
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "FloatSliderModel", "state": {"description": "temperature", "value": 0.5}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}}]}},
        "html": {"model_name": "HTMLModel", "state": {"value": "<b>chips</b>"}},
        "pick": {"model_name": "DropdownModel", "state": {"description": "word", "index": 1, "_options_labels": ["a", "moon"]}},
    }  # fmt: skip
    controls, shown = site.widget_snapshot("box", state)
    assert re.search(r"temperature <code>0.5</code>", controls)
    assert shown == state["out"]["state"]["outputs"]
    assert "<b>chips</b>" in site.widget_snapshot("html", state)[0]
    assert "<code>moon</code>" in site.widget_snapshot("pick", state)[0]
    controls, shown = site.widget_snapshot("missing", state)
    assert "run the notebook" in controls and shown == []
