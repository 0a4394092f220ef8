"""Match a student's notebook back to the assignment, and build the notebook that is graded.

Students' notebooks drift from the released version: Colab and other editors drop or rewrite
nbgrader metadata and cell ids, students duplicate, move, delete or edit cells, and add cells
of their own. Grading must not depend on any of that. Each student cell is matched to a cell
of the assignment, in this order of trust:

1. the nbgrader ``grade_id`` in its metadata;
2. its cell id;
3. its content: identical (ignoring white space) to a released cell; or, for answer cells,
   containing the released cell's given lines (the ``def`` line and docstring around
   ``# YOUR CODE HERE``).

The graded notebook then follows the *source* notebook's order: read-only cells and tests come
from the source (edits undone, hidden tests included, deleted ones restored), answer cells come
from the student, and cells the student added run after the cell they followed. Every repair
is reported in a note, so the message column says what happened.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from helpers.grading.notebook import (
    HIDDEN_TESTS,
    grade_id,
    is_bonus,
    is_locked,
    is_solution_cell,
    is_test_cell,
    points,
    strip_hidden_tests,
)

__all__ = ["PlanCell", "Plan", "build_plan", "split_hidden"]

_STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "raise NotImplementedError", "YOUR ANSWER HERE"}


@dataclass
class PlanCell:
    """A cell of the graded notebook."""

    cell_type: str  # "code" or "markdown"
    source: str  # what runs (tests: with their hidden parts)
    role: str  # "given" (read-only), "answer", "extra" (added by the student), "test"
    grade_id: str | None = None
    points: float = 0.0
    shown_source: str = ""  # what feedback may show (tests: without hidden parts)
    note: str = ""
    bonus: bool = False  # a bonus test: its points are outside the maximum score


@dataclass
class Plan:
    cells: list[PlanCell]
    notes: list[str] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.cells if c.role == "test" and not c.bonus)


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _given_lines(release_source: str) -> list[str]:
    lines = [line.strip() for line in release_source.splitlines()]
    return [line for line in lines if line and line not in _STUB_LINES]


def _answer_similarity(student_source: str, release_source: str) -> float:
    """How much of a released answer cell's given text the student's cell still holds."""
    given = _given_lines(release_source)
    if not given:
        return 0.0
    mine = {line.strip() for line in student_source.splitlines()}
    exact = sum(line in mine for line in given) / len(given)
    fuzzy = difflib.SequenceMatcher(None, "\n".join(given[:3]), student_source[:500]).ratio()
    return max(exact, 0.8 * fuzzy)


def build_plan(source_nb, release_nb, student_nb) -> Plan:
    """The cells to grade, in order, and notes on every repair made to the student's notebook."""
    template = list(zip(source_nb.cells, _release_cells(source_nb, release_nb), strict=True))
    by_grade_id = {grade_id(s): i for i, (s, _) in enumerate(template) if grade_id(s)}
    by_cell_id = {}
    for i, (s, r) in enumerate(template):
        for cid in (s.get("id"), r.get("id")):
            if cid:
                by_cell_id.setdefault(cid, i)
    by_content = {}
    for i, (s, r) in enumerate(template):
        if not is_solution_cell(s):
            by_content.setdefault((r.cell_type, _norm(r.source)), i)

    notes: list[str] = []
    matched: dict[int, list[int]] = {}  # template index -> student cell indices
    match_of: list[int | None] = []
    lost_metadata = 0
    students = student_nb.cells
    for j, cell in enumerate(students):
        index, how = None, ""
        gid = grade_id(cell)
        if gid in by_grade_id:
            index, how = by_grade_id[gid], "grade_id"
        elif cell.get("id") in by_cell_id and template[by_cell_id[cell.get("id")]][0].cell_type == cell.cell_type:
            index, how = by_cell_id[cell.get("id")], "id"
        elif (cell.cell_type, _norm(cell.source)) in by_content:
            index, how = by_content[(cell.cell_type, _norm(cell.source))], "content"
        if index is not None and how != "grade_id" and not gid:
            lost_metadata += 1
        match_of.append(index)
        if index is not None:
            matched.setdefault(index, []).append(j)

    # Answer cells not found yet: look for student cells that still hold their given lines.
    for i, (s, r) in enumerate(template):
        if not is_solution_cell(s) or i in matched or s.cell_type != "code":
            continue
        best, best_score = None, 0.6
        for j, cell in enumerate(students):
            if match_of[j] is None and cell.cell_type == "code":
                score = _answer_similarity(cell.source, r.source)
                if score > best_score:
                    best, best_score = j, score
        if best is not None:
            match_of[best] = i
            matched[i] = [best]
            lost_metadata += 1
    if lost_metadata:
        notes.append(f"{lost_metadata} cell(s) had lost their nbgrader metadata or id (e.g. saved by Colab): matched by content")

    # Student cells that match nothing are extras; they run after the cell they followed.
    extras_after: dict[int, list[int]] = {}
    anchor = -1
    for j, index in enumerate(match_of):
        if index is None:
            extras_after.setdefault(anchor, []).append(j)
        else:
            anchor = index

    cells: list[PlanCell] = [_extra(students[j]) for j in extras_after.get(-1, [])]
    for i, (s, r) in enumerate(template):
        mine = [students[j] for j in matched.get(i, [])]
        label = grade_id(s) or f"cell {i + 1}"
        if is_solution_cell(s):
            if not mine:
                notes.append(f"answer cell '{label}' not found: graded as left blank")
                mine = [r]
            elif len(mine) > 1:
                notes.append(f"answer cell '{label}' appears {len(mine)} times: all copies run, in order")
            for cell in mine:
                cells.append(PlanCell(s.cell_type, cell.source, "answer", grade_id(s), 0.0, cell.source))
        elif is_test_cell(s):
            if not mine:
                notes.append(f"test cell '{label}' was deleted: restored")
            elif any(_norm(c.source) not in (_norm(r.source), _norm(s.source)) for c in mine):
                notes.append(f"test cell '{label}' was edited: restored from the assignment")
            if len(mine) > 1:
                notes.append(f"test cell '{label}' appears {len(mine)} times: graded once")
            cells.append(PlanCell("code", s.source, "test", grade_id(s), points(s), r.source, bonus=is_bonus(s)))
        else:
            cells.append(PlanCell(s.cell_type, s.source, "given", grade_id(s), 0.0, r.source))
            edited = [c for c in mine if _norm(c.source) not in (_norm(r.source), _norm(s.source)) and c.cell_type == "code"]
            if edited and is_locked(s):
                notes.append(f"read-only cell '{label}' was edited: the original runs first, then your version")
                for cell in edited[:1]:
                    cells.append(PlanCell("code", cell.source, "extra", None, 0.0, cell.source, note="your edited copy"))
            elif edited:  # an unlocked given cell: the student's version is what they ran
                cells[-1] = PlanCell("code", edited[-1].source, "given", grade_id(s), 0.0, edited[-1].source)
        cells.extend(_extra(students[j]) for j in extras_after.get(i, []))
    return Plan(cells, notes)


def _extra(cell) -> PlanCell:
    return PlanCell(cell.cell_type, cell.source, "extra", None, 0.0, cell.source)


def _release_cells(source_nb, release_nb) -> list:
    """The released cell for every source cell (nbgrader keeps cells one to one)."""
    if len(source_nb.cells) == len(release_nb.cells):
        return list(release_nb.cells)
    by_id = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    released = []
    for cell in source_nb.cells:
        match = by_id.get(grade_id(cell))
        if match is None:
            match = cell.copy()
            match["source"] = strip_hidden_tests(cell.source)
        released.append(match)
    return released


def split_hidden(source: str) -> list[tuple[str, bool]]:
    """Split a test cell into (code, hidden) segments at the hidden-test markers.

    Each segment must be valid Python on its own (the markers sit between top-level
    statements, as nbgrader recommends); otherwise the whole cell is one hidden segment.
    """
    segments, last = [], 0
    for match in HIDDEN_TESTS.finditer(source):
        if source[last : match.start()].strip():
            segments.append((source[last : match.start()], False))
        segments.append((match.group(0), True))
        last = match.end()
    if source[last:].strip():
        segments.append((source[last:], False))
    if not any(hidden for _, hidden in segments):
        return [(source, False)]
    try:
        for code, _ in segments:
            compile(code, "<test>", "exec")
    except SyntaxError:
        return [(source, True)]
    return segments
