"""Capturing what code prints, with a cap, on both sides of the grader."""

from __future__ import annotations

import os
import re

__all__ = ["Capture", "read_new_output", "strip_ansi"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Capture:
    """A text stream that keeps at most ``cap`` bytes and counts the rest."""

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, name: str, cap: int):
        self.name, self.cap = name, cap
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def write(self, text) -> int:
        text = text if isinstance(text, str) else str(text)
        data = text.encode("utf-8", "backslashreplace")
        room = self.cap - self.kept
        if len(data) <= room:
            self.parts.append(text)
            self.kept += len(data)
        else:
            if room > 0:
                piece = data[:room].decode("utf-8", "ignore")
                self.parts.append(piece)
                self.kept += len(piece.encode("utf-8", "backslashreplace"))
            self.dropped += len(data) - max(room, 0)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def text(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... output truncated: {self.dropped:,} more bytes not kept (limit {self.cap:,} bytes) ...]\n"
        return text


def read_new_output(path: str, seen: int, cap: int) -> tuple[str, int]:
    """What was written straight to file descriptors 1/2 since ``seen`` (at most ``cap`` bytes)."""
    if not path:
        return "", seen
    try:
        size = os.path.getsize(path)
    except OSError:
        return "", seen
    if size < seen:  # truncated by the student: start again
        seen = 0
    if size == seen:
        return "", seen
    with open(path, "rb") as f:
        f.seek(seen)
        data = f.read(cap)
    text = data.decode("utf-8", "replace")
    if size - seen > cap:
        text += f"\n[... output truncated: {size - seen - cap:,} more bytes not kept ...]\n"
    return text, size
