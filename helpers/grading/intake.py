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
    file_id: str = ""  # a file name for this student's feedback and results: unique in the class

    def __post_init__(self):
        self.file_id = self.file_id or safe_id(self.student_id)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + self.files[name] + b"\0")
        return digest.hexdigest()


def _readable(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.@-]+", "_", text.strip()).strip("._") or "unnamed"


def safe_id(text: str) -> str:
    """A file name for a student id: ASCII letters, digits, ``-``, ``_``, ``.``, ``@``; when the
    id had to be changed to get there, a short hash of the original keeps it unique."""
    readable = _readable(text)
    if readable == text:
        return readable
    return f"{readable}~{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def find_submissions(path: str | Path, assignment: str, notebook_names: list[str]) -> list[Submission]:
    """Every submission under ``path`` (folder or zip) for ``assignment``.

    ``notebook_names`` are the file names of the released notebooks (``["week01.ipynb"]``),
    used to pick the right notebook when a student handed in several. Students are told apart
    by their exact id: ids that only look alike (``a b`` and ``a_b``, ``Ann`` and ``ann``) get
    separate rows, and a note says so.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"submissions {str(path)!r} do not exist: give a folder or a .zip file")
    broken: dict[str, str] = {}
    entries = _read_zip(path, broken) if path.is_file() else _read_folder(path, broken)
    entries = {name: data for name, data in entries.items() if not _IGNORED.search(name)}
    broken = {name: why for name, why in broken.items() if not _IGNORED.search(name)}
    if not entries and not broken:
        raise ValueError(f"no files found in {str(path)!r}")
    names = _strip_common_folder({**entries, **dict.fromkeys(broken, b"")})
    groups: dict[str, dict[str, bytes]] = {}
    damaged: dict[str, list[str]] = {}
    plain_files: set[str] = set()  # students whose file name is their id: <student_id>.ipynb
    for short, original in names.items():
        student, inner = _owner(short)
        groups.setdefault(student, {})[inner] = entries.get(original, b"")
        if original in broken:
            damaged.setdefault(student, []).append(f"{inner} ({broken[original]})")
        if "/" not in short and not _CANVAS.match(short):
            plain_files.add(student)
    submissions = []
    for student, files in sorted(groups.items()):
        sub = _make_submission(student, files, notebook_names, student in plain_files)
        if student in damaged:
            sub.status = "invalid"
            sub.message = f"could not read {', '.join(damaged[student][:3])} from the submissions: hand it in again"
        submissions.append(sub)
    _report_look_alikes(submissions)
    return submissions


def _report_look_alikes(submissions: list[Submission]) -> None:
    """Ids whose file names would collide (case, punctuation) stay apart, with a note."""
    by_key: dict[str, list[Submission]] = {}
    for sub in submissions:
        by_key.setdefault(_readable(sub.student_id).lower(), []).append(sub)
    for group in by_key.values():
        if len(group) < 2:
            continue
        for sub in group:
            sub.file_id = f"{_readable(sub.student_id)}~{hashlib.sha256(sub.student_id.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
            others = ", ".join(repr(o.student_id) for o in group if o is not sub)
            sub.notes.append(f"other submissions have a similar id ({others}): graded separately, files named {sub.file_id}")


def _read_folder(folder: Path, broken: dict[str, str]) -> dict[str, bytes]:
    files = {}
    for file in sorted(folder.rglob("*")):
        if file.is_symlink() or not file.is_file():
            continue
        rel = file.relative_to(folder).as_posix()
        try:
            files[rel] = file.read_bytes() if file.stat().st_size <= MAX_FILE_BYTES else b""
        except OSError as error:
            broken[rel] = f"{type(error).__name__}: {error.strerror or error}"
    return files


def _read_zip(path: Path, broken: dict[str, str]) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"{str(path)!r} is neither a folder nor a readable zip file ({error})") from None
    files = {}
    with archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or name.is_absolute() or ".." in name.parts:
                continue
            try:
                with archive.open(info) as entry:  # read at most the limit, whatever the header claims
                    data = entry.read(MAX_FILE_BYTES + 1)
                files[name.as_posix()] = data if len(data) <= MAX_FILE_BYTES else b""
            except Exception as error:  # noqa: BLE001 - CRC errors, unknown compression, encryption, truncation
                broken[name.as_posix()] = f"{type(error).__name__}: {str(error)[:80]}"
    return files


def _strip_common_folder(entries: dict[str, bytes]) -> dict[str, str]:
    """Short name -> name in the export: ``export/alice.ipynb`` -> ``alice.ipynb``."""
    names = {name: name for name in entries}
    while True:
        tops = {name.split("/", 1)[0] for name in names}
        if len(tops) != 1 or all("/" not in name for name in names):
            return names
        if _MOODLE.match(tops.pop()):
            return names
        names = {name.split("/", 1)[1]: original for name, original in names.items() if "/" in name}


def _owner(name: str) -> tuple[str, str]:
    """(student, path inside the student's submission) for a file of the export."""
    parts = name.split("/")
    if len(parts) > 1:
        moodle = _MOODLE.match(parts[0])
        student = f"{_readable(moodle['name'])}_{moodle['uid']}" if moodle else parts[0]  # the LMS id keeps it unique
        return student, "/".join(parts[1:])
    canvas = _CANVAS.match(parts[0])
    if canvas:
        file = re.sub(r"-\d+(\.\w+)$", r"\1", canvas["file"])  # week01-1.ipynb -> week01.ipynb
        return f"{_readable(canvas['name'])}_{canvas['uid']}", file
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
