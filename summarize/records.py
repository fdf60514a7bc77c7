"""Plain data records passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Part = Literal["title", "body", "summary"]


@dataclass(frozen=True)
class Article:
    """One input article: a title and its paragraphs, plus whatever metadata came with it."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # input file, relative to the input root
    line: int | None = None  # 1-based line for .jsonl/.csv records

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class BadRecord:
    """An input record that could not be used, and why."""

    source: str
    reason: str
    line: int | None = None
    id: str | None = None

    def describe(self) -> str:
        where = self.source + (f":{self.line}" if self.line is not None else "")
        rid = f" (id {self.id!r})" if self.id else ""
        return f"{where}{rid}: {self.reason}"


@dataclass(frozen=True)
class Segment:
    """One sentence-sized unit of a part of an article."""

    article_id: str
    part: Part
    para_idx: int
    sent_idx: int
    text: str
