"""i18next export: `DIR/locales/<lng>/articles.json`, one namespace file per language.

Each file maps an article id to `{"title", "summary", "body"}`, so with i18next's
default keySeparator "." the key `world/floods.title` in namespace `articles`
resolves (ids hold only `[A-Za-z0-9_/-]`: no "." or ":" to clash with the
separators). A missing summary is left out, so i18next's fallbackLng applies.

The values are the article texts verbatim. i18next would otherwise treat
`{{...}}` and `$t(...)` inside them as interpolation and nesting (for example
`{{ns}}` becomes the namespace name), and it has no escape syntax for values, so
read these keys with interpolation off:

    t("world/floods.body", { ns: "articles", skipInterpolation: true })

Articles whose texts contain such markers are listed in the report's warnings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from summarize.export.run import ExportReport, RunView, StreamedText, Texts, iter_texts

NAMESPACE = "articles"
_I18NEXT_MARKUP = re.compile(r"\{\{.*?\}\}|\$t\(", re.DOTALL)


def entry_of(doc: dict[str, Any], lang: str, texts: Texts, report: ExportReport) -> dict[str, str]:
    """The {title, summary?, body} of one article in one language; i18next markup in it is
    named in the report's warnings."""
    entry = {"title": texts.title, "body": texts.body}
    if texts.summary is not None:
        entry["summary"] = texts.summary
    if any(_I18NEXT_MARKUP.search(v) for v in entry.values()):
        report.warnings.append(
            f"{doc['id']} ({lang}): text contains i18next markup ({{{{...}}}} or $t()); "
            "read it with t(key, {skipInterpolation: true})"
        )
    return entry


def _member(key: str, value: dict[str, str]) -> str:
    """`"key": {...}` as one member of the top-level object that `json.dumps(..., indent=2,
    sort_keys=True)` writes (JSON strings hold no raw newline, so each line moves in by 2)."""
    body = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return f"  {json.dumps(key, ensure_ascii=False)}: " + body.replace("\n", "\n  ")


def export_i18next(view: RunView, to: Path, report: ExportReport) -> None:
    """Write one `locales/<lng>/articles.json` per language, keys sorted, one article at a
    time: articles come in id order, which is the order `sort_keys` gives the ids."""
    langs = view.languages()
    files = {lang: StreamedText(to / "locales" / lang / f"{NAMESPACE}.json") for lang in langs}
    try:
        for doc, lang, texts in iter_texts(view, report):
            out = files[lang]
            out.write(",\n" if out.started else "{\n")
            out.write(_member(doc["id"], entry_of(doc, lang, texts, report)))
        written = []
        for lang, out in files.items():
            if out.started:
                out.write("\n}\n")
                out.commit()
                report.files_written += 1
                written.append(lang)
    except BaseException:
        for out in files.values():
            out.discard()
        raise
    report.languages = tuple(written)
