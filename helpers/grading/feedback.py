"""Per-student feedback as one self-contained HTML page, safe to open.

At the top, a table of parts with points and what went wrong; below, the notebook as graded:
instructions, the student's code with its outputs, and every test with its result. Hidden
tests never appear: a test cell shows only its released (visible) source, and a hidden check
that failed shows the failure message alone (see :func:`failure_message`), without its code,
its traceback, the student's output during it, or the message of the student's exception.

Everything the student wrote is escaped: code and outputs as text, Markdown rendered with raw
HTML escaped (mistune, ``escape=True``), and the page carries a Content-Security-Policy that
allows no scripts, no network requests and no forms, only inline styles and ``data:`` images.
Sizes are capped before rendering (a Markdown cell, all Markdown, a code cell).
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

__all__ = ["PartResult", "failure_message", "render_feedback"]

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
.cell.test.ok{border-color:#1a7f37} .cell.test.bad{border-color:#cf222e}
.label{font-size:.8rem;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:.85rem;margin:.3rem 0}
pre.out{background:#fff;border:1px solid #eee} pre.err{background:#fff5f5;border:1px solid #ffd7d5} pre.stderr{background:#fffbe6}
.notes{background:#fff8c5;padding:.6rem 1rem;border-radius:6px} .md{margin:.5rem 0}
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


_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)


def _markdown(text: str) -> str:
    """Markdown to HTML (mistune, as nbconvert uses) with raw HTML escaped, LaTeX kept verbatim."""
    maths: list[str] = []

    def stash(match: re.Match) -> str:
        maths.append(match.group(0))
        return f"MATHPLACEHOLDER{len(maths) - 1}X"

    try:
        import mistune

        rendered = mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])(_MATH.sub(stash, text))
    except Exception:  # noqa: BLE001 - mistune missing or failing: show the text as it is
        return f"<pre>{html.escape(text)}</pre>"
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: f"<code>{html.escape(maths[int(m.group(1))])}</code>", rendered)


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


def _outputs(reply: dict | None, show_traceback: bool = True) -> str:
    if not reply:
        return ""
    parts = []
    for output in reply.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            cls = "out stderr" if output.get("name") == "stderr" else "out"
            parts.append(f'<pre class="{cls}">{html.escape(str(output.get("text", "")))}</pre>')
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            png = data.get("image/png")
            if isinstance(png, str):
                try:
                    if base64.b64decode(png, validate=True)[:8] == b"\x89PNG\r\n\x1a\n":
                        parts.append(f'<img alt="figure" src="data:image/png;base64,{png}">')
                        continue
                except ValueError:
                    pass
            parts.append(f'<pre class="out">{html.escape(str(data.get("text/plain", "")))}</pre>')
    error = reply.get("error")
    if error:
        if show_traceback and error.get("traceback"):
            text = "\n".join(str(line) for line in error["traceback"])
        else:
            text = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
        parts.append(f'<pre class="err">{html.escape(text)}</pre>')
    return "".join(parts)


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
    part_of = {p.grade_id: p for p in parts}
    markdown_left = MARKDOWN_TOTAL_CHARS
    for cell, runs in cells:
        if cell.cell_type != "code":
            text = cell.shown_source
            if cell.role == "given":  # the assignment's own instructions
                body.append(f'<div class="md">{_markdown(text)}</div>')
            elif len(text) > min(MARKDOWN_CELL_CHARS, markdown_left):  # the student's: capped before rendering
                shown = text[: max(min(MARKDOWN_CELL_CHARS, markdown_left), 0)]
                body.append(f'<div class="md"><pre>{esc(shown)}</pre><p class="skip">[... this text cell is too long to show in full ...]</p></div>')
                markdown_left -= len(shown)
            else:
                body.append(f'<div class="md">{_markdown(text)}</div>')
                markdown_left -= len(text)
            continue
        if cell.role == "test":
            part = part_of.get(cell.grade_id)
            ok = part is not None and part.status == "passed"
            verdict = f"{part.points:g} / {part.max_points:g} {'bonus ' if part.bonus else ''}points" if part else ""
            body.append(f'<div class="cell test {"ok" if ok else "bad"}"><div class="label">test {esc(cell.grade_id or "")}: {verdict}</div>')
            body.append(f"<pre>{esc(cell.shown_source)}</pre>")
            for _code, hidden, reply in runs:
                if hidden:
                    if reply is None:
                        body.append('<p class="skip">Hidden tests: not run.</p>')
                    elif reply.get("error"):
                        body.append(f'<p class="fail">Hidden tests failed:</p><pre class="err">{esc(failure_message(reply["error"], True))}</pre>')
                    else:
                        body.append('<p class="pass">Hidden tests passed.</p>')
                else:
                    body.append(_outputs(reply) if reply is not None else '<p class="skip">Not run.</p>')
            body.append("</div>")
        else:
            kind = "answer" if cell.role == "answer" else "code"
            label = {"answer": "your answer", "extra": "your cell", "given": "given code"}[cell.role]
            shown = cell.shown_source if len(cell.shown_source) <= CODE_CELL_CHARS else cell.shown_source[:CODE_CELL_CHARS] + "\n[... cut: cell too long ...]"
            body.append(f'<div class="cell {kind}"><div class="label">{label}</div><pre>{esc(shown)}</pre>')
            reply = runs[0][2] if runs else None
            body.append(_outputs(reply) if reply is not None else '<p class="skip">Not run.</p>')
            body.append("</div>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><meta name="referrer" content="no-referrer">'
        f"<title>{esc(assignment)} feedback: {esc(student_id)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
