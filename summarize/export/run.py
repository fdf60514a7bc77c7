"""Read-only view of a finished run folder, shared by the exporters."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from summarize.errors import SummarizeError

SOURCE_LANG = "en"
KNOWN_LANGS = ("en", "ko", "zh-Hans")
# The only target languages a run can have (config.LANGUAGES); anything else found in a run
# folder is never used, least of all in a file path.
TARGET_LANGS = ("ko", "zh-Hans")
PARTS = ("title", "summary", "body")
_TMP_PREFIX = ".tmp-"  # the store's in-flight files; never part of a run
_LATEST = "latest"


class ExportError(SummarizeError):
    """A run folder cannot be exported, or an exported/reviewed file cannot be read back."""

    exit_code = 2


@dataclass
class ExportReport:
    """What an export wrote: file and article counts, and anything it left out or wants said."""

    fmt: str
    run_id: str
    out: Path
    files_written: int = 0
    articles: int = 0
    languages: tuple[str, ...] = ()
    skipped: list[str] = field(default_factory=list)  # "<id> (<lang>): why"
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Texts:
    """One language's version of an article: what Hugo pages and i18next keys show."""

    lang: str
    title: str
    body: str
    summary: str | None


def lang_order(langs: set[str]) -> tuple[str, ...]:
    """The known languages in their usual order, then any others sorted."""
    known = [lang for lang in KNOWN_LANGS if lang in langs]
    return (*known, *sorted(langs - set(KNOWN_LANGS)))


def texts_for(doc: dict[str, Any], lang: str) -> Texts | None:
    """The title/body/summary of an article in `lang`, or None when it was not translated."""
    summary = (doc.get("summary") or {}).get(lang)
    summary = summary if isinstance(summary, str) and summary.strip() else None
    if lang == SOURCE_LANG:
        src = doc["source"]
        return Texts(lang, src["title"], src["body"], summary)
    tr = (doc.get("translations") or {}).get(lang)
    if not isinstance(tr, dict) or not isinstance(tr.get("title"), str):
        return None
    if not isinstance(tr.get("body"), str):
        return None
    return Texts(lang, tr["title"], tr["body"], summary)


@dataclass(frozen=True)
class RunView:
    """A run folder opened for export: its manifest and its articles, in id order."""

    path: Path
    manifest: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def articles_dir(self) -> Path:
        return self.path / "articles"

    def article_ids(self) -> list[str]:
        return list(self.iter_article_ids())

    def iter_article_ids(self) -> Iterator[str]:
        """Every article id, in sorted order, holding one folder's listing at a time."""
        return _walk_ids(self.articles_dir, "")

    def count_articles(self) -> int:
        return sum(1 for _ in self.iter_article_ids())

    def articles(self) -> Iterator[dict[str, Any]]:
        """Each article document, sorted by id, one at a time; a malformed one is an
        ExportError naming its file."""
        for article_id in self.iter_article_ids():
            yield self.load(article_id)

    def configured_languages(self, report: ExportReport | None = None) -> tuple[str, ...]:
        """The run's target languages from its manifest, limited to TARGET_LANGS.

        A manifest without `config.languages` (an older run) allows every TARGET_LANGS entry.
        """
        configured = (self.manifest.get("config") or {}).get("languages")
        if not isinstance(configured, list):
            return TARGET_LANGS
        bad = [lang for lang in configured if lang not in TARGET_LANGS]
        if bad and report is not None:
            report.warnings.append(
                f"manifest languages {', '.join(map(repr, bad))} are not among "
                f"{', '.join(TARGET_LANGS)}: ignored"
            )
        return tuple(lang for lang in TARGET_LANGS if lang in configured)

    def languages(self, report: ExportReport | None = None) -> tuple[str, ...]:
        """The source and every configured language some article has a title/body for.

        A translation under any other key is never exported; with a report, each such key
        is named in its warnings.
        """
        allowed = self.configured_languages(report)
        found = {SOURCE_LANG}
        for doc in self.articles():
            for lang in doc.get("translations") or {}:
                if lang not in allowed:
                    if report is not None:
                        report.warnings.append(
                            f"{doc['id']}: language key {lang!r} is not one of the run's "
                            f"languages ({', '.join(allowed)}): skipped"
                        )
                elif texts_for(doc, lang):
                    found.add(lang)
        return lang_order(found)

    def load(self, article_id: str) -> dict[str, Any]:
        """One article document, validated; an ExportError names its file otherwise."""
        path = os.path.join(self.articles_dir, f"{article_id}.json")  # a str: see _stem
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.loads(fh.read())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExportError(f"cannot read article file {path}: {exc}") from None
        problem = _article_problem(doc, article_id)
        if problem:
            raise ExportError(f"article file {path} is not a valid article: {problem}")
        return doc


def _walk_ids(folder: Path, prefix: str) -> Iterator[str]:
    """The ids under `folder` in the order `sorted()` gives the whole id strings.

    A sub-folder `d` sorts as "d/", the prefix every id inside it starts with, so a
    depth-first walk over each folder's sorted entries yields the ids in string order
    without ever holding the ids of other folders. Symlinked folders are not followed;
    a `*.json` file or a symlink to one is an article (as with `Path.rglob`).
    """
    keys: list[str] = []  # "<id part>" for an article, "<name>/" for a folder
    with os.scandir(folder) as listing:
        for entry in listing:
            if entry.is_dir(follow_symlinks=False):
                keys.append(entry.name + "/")
            elif (
                entry.name.endswith(".json")
                and not entry.name.startswith(_TMP_PREFIX)
                and entry.is_file()
            ):
                keys.append(_stem(entry.name))
    keys.sort()
    for key in keys:
        if key.endswith("/"):
            yield from _walk_ids(folder / key[:-1], prefix + key)
        else:
            yield prefix + key


def _stem(name: str) -> str:
    """`name` without its ".json", as `Path.with_suffix("")` has it (".json" alone keeps it).
    Plain string work: pathlib interns every part it parses, and an export must not fill the
    interpreter's table of interned strings with one entry per article."""
    return name[: -len(".json")] if len(name) > len(".json") else name


def _article_problem(doc: Any, article_id: str) -> str | None:
    if not isinstance(doc, dict):
        return "not a JSON object"
    if doc.get("id") != article_id:
        return f"its id {doc.get('id')!r} does not match its path ({article_id!r})"
    src = doc.get("source")
    if not isinstance(src, dict):
        return "no 'source' object"
    for key in ("title", "body"):
        if not isinstance(src.get(key), str):
            return f"'source.{key}' is missing or not a string"
    for key in ("summary", "translations"):
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            return f"'{key}' is not an object"
    for key in ("segments", "qa"):
        if doc.get(key) is not None and not isinstance(doc[key], list):
            return f"'{key}' is not a list"
    return _segments_problem(doc.get("segments") or [])


def _segments_problem(segments: list[Any]) -> str | None:
    seen = set()
    for n, seg in enumerate(segments):
        if not isinstance(seg, dict) or seg.get("part") not in PARTS:
            return f"segment {n} has no part among {', '.join(PARTS)}"
        place = (seg["part"], seg.get("para"), seg.get("sent"))
        if not all(isinstance(i, int) and i >= 0 for i in place[1:]):
            return f"segment {n} has no integer para/sent"
        if place in seen:
            return f"segment {n} repeats {seg['part']}/p{place[1]}s{place[2]}"
        seen.add(place)
        if not isinstance(seg.get(SOURCE_LANG), str):
            return f"segment {n} has no {SOURCE_LANG!r} text"
    return None


def open_run(path: Path, *, require_complete: bool = True) -> RunView:
    """Open a run folder, or an output folder's `latest` run; refuse unfinished runs by default."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"no run folder at {path}")
    if not (path / "manifest.json").exists() and (path / _LATEST).exists():
        path = (path / _LATEST).resolve()
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ExportError(
            f"{path} is not a run folder (no manifest.json) nor an output folder with a "
            f"'{_LATEST}' run"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {manifest_path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise ExportError(f"{manifest_path} is not a JSON object")
    view = RunView(path, manifest)
    if require_complete and view.status != "complete":
        raise ExportError(
            f"run {view.run_id} is {view.status}, not complete; resume or rerun it before exporting"
        )
    if not view.articles_dir.is_dir():
        raise ExportError(f"run folder {path} has no articles/ folder")
    return view


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text with LF endings via a temp file, so a reader never sees half a file."""
    with StreamedText(path) as out:
        out.write(text)


class StreamedText:
    """A text file written piece by piece into a temp file that replaces `path` on success.

    The temp file is created by the first `write`, so a file nothing was written to is
    never created; on an exception it is removed and `path` is left as it was. Used as a
    context manager, or with `commit()` / `discard()` when several are open at once.
    """

    def __init__(self, path: str | Path):
        self.path = os.fspath(path)  # a str: see _stem
        self._fh: TextIO | None = None
        self._tmp: str | None = None

    @property
    def started(self) -> bool:
        return self._fh is not None

    def write(self, text: str) -> None:
        if self._fh is None:
            folder = os.path.dirname(self.path) or "."
            os.makedirs(folder, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        self._fh.write(text)

    def commit(self) -> bool:
        """Put the file in place; False when nothing was written (and nothing is created)."""
        if self._fh is None or self._tmp is None:
            return False
        try:
            self._fh.close()
            os.chmod(self._tmp, 0o644)  # mkstemp makes 0600; exports are meant to be shared
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self._fh = self._tmp = None
        return True

    def discard(self) -> None:
        """Drop what was written; `path` is left as it was."""
        if self._fh is not None:
            self._fh.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
        self._fh = self._tmp = None

    def __enter__(self) -> StreamedText:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def iter_texts(view: RunView, report: ExportReport) -> Iterator[tuple[dict[str, Any], str, Texts]]:
    """(article, language, texts) for every article and language of the run; articles are
    counted in ``report`` and a missing translation is listed there as skipped."""
    langs = view.languages(report)
    for doc in view.articles():
        report.articles += 1
        for lang in langs:
            texts = texts_for(doc, lang)
            if texts is None:
                report.skipped.append(f"{doc['id']} ({lang}): no translation")
                continue
            yield doc, lang, texts
