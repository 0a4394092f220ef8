"""Every notebook opens in Colab from a badge at its top and from the README's syllabus table;
every badge is built from the one repository address (COURSE_REPO) and points at a notebook
that exists."""

from __future__ import annotations

import re

import nbformat
import pytest

from helpers.course.notebooks import (
    BADGE_CELL_ID,
    COURSE_REF,
    COURSE_REPO,
    ROOT,
    colab_badge,
    colab_url,
    find_notebooks,
    restamp_readme,
)

NOTEBOOKS = [*find_notebooks(kind="notebooks"), *find_notebooks(kind="solutions"), *find_notebooks(kind="assignments")]
PREFIX = f"https://colab.research.google.com/github/{COURSE_REPO.removeprefix('https://github.com/')}/blob/{COURSE_REF}/"
LINK = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")


def _target(url: str):
    assert url.startswith(PREFIX), f"{url} is not a notebook of {COURSE_REPO} at {COURSE_REF}"
    return ROOT / url.removeprefix(PREFIX)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_notebook_starts_with_its_badge(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.get("id") == BADGE_CELL_ID, (
        f"{path.name}: run helpers.course.notebooks.restamp_setup_cells() to add the Colab badge")
    assert first.source == colab_badge(path)
    (url,) = LINK.findall(first.source)
    target = _target(url)
    assert target.is_file(), f"{path.name}: the badge opens {target}, which does not exist"
    expected = path if "solutions" not in path.parts else ROOT / "assignments" / path.parent.name / path.name
    assert target == expected, "a lecture opens itself; an assignment's source opens the student version"


def test_readme_badges_point_at_existing_notebooks_and_cover_every_one():
    readme = (ROOT / "README.md").read_text()
    targets = [_target(url) for url in LINK.findall(readme)]
    assert targets, "no Colab badge in the README"
    assert all(t.is_file() for t in targets), [t for t in targets if not t.is_file()]
    wanted = {*find_notebooks(kind="notebooks"), *find_notebooks(kind="assignments")}
    assert wanted <= set(targets), f"no README badge for {sorted(p.name for p in wanted - set(targets))}"


def test_readme_badges_are_the_generated_ones(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text((ROOT / "README.md").read_text())
    assert not restamp_readme(copy), "README badges differ: run helpers.course.notebooks.restamp_readme()"
    stripped = re.sub(r"\s*" + LINK.pattern, "", copy.read_text())  # the README before badges
    copy.write_text(stripped)
    assert restamp_readme(copy) and copy.read_text() == (ROOT / "README.md").read_text()


def test_colab_opens_the_student_version_of_an_assignment():
    url = colab_url(ROOT / "solutions" / "week01" / "week01.ipynb")
    assert url == PREFIX + "assignments/week01/week01.ipynb"
    assert colab_url("notebooks/week01_ngrams.ipynb", ref="main").endswith("/blob/main/notebooks/week01_ngrams.ipynb")
