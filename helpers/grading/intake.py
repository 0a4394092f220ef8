"""Find the submissions in a folder or an LMS zip export, one entry per student.

Accepted layouts (the originals are only read, never changed):

- a folder of ``<student_id>.ipynb`` files, or of ``<student_id>/`` folders holding the
  notebook and any files it reads;
- a zip of either (one top-level folder inside the zip is fine);
- Canvas's "Download submissions" zip: ``<name>_[LATE_]<user id>_<submission id>_<file>``,
  with ``-1``, ``-2`` ... appended to resubmitted file names;
- Moodle's "Download all submissions" zip: ``<Full Name>_<id>_assignsubmission_file_/<file>``.

Every student found gets exactly one :class:`Submission`, also when nothing in it can be
graded (then ``status`` and ``message`` say why).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["Submission", "find_submissions", "safe_id"]

_IGNORED = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store|Thumbs\.db|\.git)(/|$)|(^|/)\._")
_CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_?$")
MAX_FILE_BYTES = 200 * 2**20


@dataclass
class Submission:
    """One student's submission: the notebook to grade and the other files that come with it."""

    student_id: str
    notebook: str | None = None  # key into files
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    status: str = ""  # empty when gradeable; else missing | invalid | ambiguous
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        return digest.hexdigest()


def safe_id(text: str) -> str:
    """A student id usable as a file name: letters, digits, ``-``, ``_``, ``.``, ``@``."""
    cleaned = re.sub(r"[^\w.@-]+", "_", text.strip(), flags=re.UNICODE).strip("._")
    return cleaned or "unnamed"


def find_submissions(path: str | Path, assignment: str, notebook_names: list[str]) -> list[Submission]:
    """Every submission under ``path`` (folder or zip) for ``assignment``.

    ``notebook_names`` are the file names of the released notebooks (``["week01.ipynb"]``),
    used to pick the right notebook when a student handed in several.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"submissions {str(path)!r} do not exist: give a folder or a .zip file")
    entries = _read_zip(path) if path.is_file() else _read_folder(path)
    entries = {name: data for name, data in entries.items() if not _IGNORED.search(name)}
    if not entries:
        raise ValueError(f"no files found in {str(path)!r}")
    entries = _strip_common_folder(entries)
    groups: dict[str, dict[str, bytes]] = {}
    plain_files: set[str] = set()  # students whose file name is their id: <student_id>.ipynb
    for name, data in entries.items():
        student, inner = _owner(name)
        groups.setdefault(safe_id(student), {})[inner] = data
        if "/" not in name and not _CANVAS.match(name):
            plain_files.add(safe_id(student))
    return [
        _make_submission(student, files, notebook_names, student in plain_files)
        for student, files in sorted(groups.items())
    ]


def _read_folder(folder: Path) -> dict[str, bytes]:
    files = {}
    for file in sorted(folder.rglob("*")):
        if file.is_file() and not file.is_symlink():
            rel = file.relative_to(folder).as_posix()
            files[rel] = file.read_bytes() if file.stat().st_size <= MAX_FILE_BYTES else b""
    return files


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{str(path)!r} is neither a folder nor a readable zip file ({error})") from None
    files = {}
    with archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts:
                continue
            files[name.as_posix()] = archive.read(info) if info.file_size <= MAX_FILE_BYTES else b""
    return files


def _strip_common_folder(entries: dict[str, bytes]) -> dict[str, bytes]:
    """``export/alice.ipynb, export/bob.ipynb`` -> ``alice.ipynb, bob.ipynb``."""
    while True:
        tops = {name.split("/", 1)[0] for name in entries}
        if len(tops) != 1 or all("/" not in name for name in entries):
            return entries
        top = tops.pop()
        if _MOODLE.match(top):
            return entries
        entries = {name.split("/", 1)[1]: data for name, data in entries.items()}


def _owner(name: str) -> tuple[str, str]:
    """(student, path inside the student's submission) for a file of the export."""
    parts = name.split("/")
    if len(parts) > 1:
        moodle = _MOODLE.match(parts[0])
        student = f"{moodle['name']}_{moodle['uid']}" if moodle else parts[0]
        return student, "/".join(parts[1:])
    canvas = _CANVAS.match(parts[0])
    if canvas:
        file = re.sub(r"-\d+(\.\w+)$", r"\1", canvas["file"])  # week01-1.ipynb -> week01.ipynb
        return f"{canvas['name']}_{canvas['uid']}", file
    stem = parts[0].rsplit(".", 1)[0] if "." in parts[0] else parts[0]
    return stem, parts[0]


def _make_submission(student: str, files: dict[str, bytes], notebook_names: list[str], plain_layout: bool) -> Submission:
    sub = Submission(student, files=files)
    notebooks = sorted(name for name in files if name.lower().endswith(".ipynb"))
    if not notebooks:
        kinds = sorted({Path(n).suffix.lower() or Path(n).name for n in files})
        if any(k == ".py" for k in kinds):
            sub.status, sub.message = "invalid", "handed in a .py file; a notebook (.ipynb) is needed (Colab: File > Download > Download .ipynb)"
        else:
            sub.status, sub.message = "missing", f"no notebook (.ipynb) in the submission (found: {', '.join(kinds) or 'nothing'})"
        return sub
    wanted = {n.lower() for n in notebook_names}
    exact = [n for n in notebooks if Path(n).name.lower() in wanted]
    if len(notebooks) == 1:
        sub.notebook = notebooks[0]
        if not exact and not plain_layout:
            sub.notes.append(f"notebook is named '{Path(notebooks[0]).name}', not {' or '.join(notebook_names)}: graded anyway")
    elif len(exact) == 1:
        sub.notebook = exact[0]
        others = [n for n in notebooks if n != exact[0]]
        sub.notes.append(f"{len(notebooks)} notebooks handed in: graded {exact[0]}, ignored {', '.join(others)}")
    else:
        candidates = exact or notebooks
        sub.notebook = max(candidates, key=lambda n: (len(files[n]) > 0, _looks_like(n, notebook_names), n))
        sub.status = "ambiguous"
        others = [n for n in notebooks if n != sub.notebook]
        sub.message = f"{len(notebooks)} notebooks handed in; graded {sub.notebook}, ignored {', '.join(others)}: check by hand"
    if not files[sub.notebook]:
        sub.status, sub.message = "invalid", f"{sub.notebook} is empty (0 bytes) or larger than {MAX_FILE_BYTES // 2**20} MB"
    return sub


def _looks_like(name: str, notebook_names: list[str]) -> float:
    return max(_similar(Path(name).stem.lower(), Path(n).stem.lower()) for n in notebook_names)


def _similar(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio()
