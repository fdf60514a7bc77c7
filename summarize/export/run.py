"""Read-only view of a finished run folder, shared by the exporters."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        root = self.articles_dir
        ids = [
            p.relative_to(root).with_suffix("").as_posix()
            for p in root.rglob("*.json")
            if p.is_file() and not p.name.startswith(_TMP_PREFIX)
        ]
        return sorted(ids)

    def articles(self) -> Iterator[dict[str, Any]]:
        """Each article document, sorted by id; a malformed one is an ExportError naming its file."""
        for article_id in self.article_ids():
            yield self._load(article_id)

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

    def _load(self, article_id: str) -> dict[str, Any]:
        path = self.articles_dir / f"{article_id}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExportError(f"cannot read article file {path}: {exc}") from None
        problem = _article_problem(doc, article_id)
        if problem:
            raise ExportError(f"article file {path} is not a valid article: {problem}")
        return doc


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


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with LF endings via a temp file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; exported files are meant to be served/shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
