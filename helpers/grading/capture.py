"""Capturing what code prints, with a cap, on both sides of the grader."""

from __future__ import annotations

import os
import re

__all__ = ["Capture", "cap_submission_outputs", "read_new_output", "strip_ansi"]

TEXT_BUDGET = 2_000_000  # characters of output kept per submission (streams, tracebacks)
IMAGE_BUDGET = 8_000_000  # characters of PNG data kept per submission

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


def cap_submission_outputs(cells) -> None:
    """Keep at most TEXT_BUDGET characters of text and IMAGE_BUDGET of images per submission."""
    text_left, image_left = TEXT_BUDGET, IMAGE_BUDGET
    for _cell, segments in cells:
        for segment in segments:
            reply = segment[2]
            if not reply:
                continue
            kept = []
            for output in reply.get("outputs", []):
                if output.get("output_type") == "stream":
                    text = str(output.get("text", ""))
                    if len(text) > text_left:
                        text = text[: max(text_left, 0)] + "\n[... output truncated: this submission's output limit was reached ...]\n"
                    text_left -= len(text)
                    kept.append({**output, "text": text})
                    continue
                data = dict(output.get("data", {}))
                png = data.get("image/png")
                if isinstance(png, str):
                    if len(png) > image_left:
                        data.pop("image/png")
                    image_left -= len(png)
                plain = str(data.get("text/plain", ""))
                if len(plain) > text_left:
                    data["text/plain"] = plain[: max(text_left, 0)] + "\n[... truncated ...]"
                text_left -= len(plain)
                kept.append({**output, "data": data})
            reply["outputs"] = kept
            error = reply.get("error")
            if isinstance(error, dict):
                error["evalue"] = str(error.get("evalue", ""))[:2000]
                trace = [str(line)[:2000] for line in error.get("traceback", [])][-40:]
                if sum(map(len, trace)) > text_left:
                    trace = trace[-3:]
                text_left -= sum(map(len, trace))
                error["traceback"] = trace
