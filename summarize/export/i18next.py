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

from .run import ExportReport, RunView, iter_texts, write_text

NAMESPACE = "articles"
_I18NEXT_MARKUP = re.compile(r"\{\{.*?\}\}|\$t\(", re.DOTALL)


def locale_entries(view: RunView, report: ExportReport) -> dict[str, dict[str, Any]]:
    """{lang: {article id: {title, summary?, body}}} for every language the run has."""
    langs = view.languages()
    entries: dict[str, dict[str, Any]] = {lang: {} for lang in langs}
    for doc, lang, texts in iter_texts(view, report):
        entry = {"title": texts.title, "body": texts.body}
        if texts.summary is not None:
            entry["summary"] = texts.summary
        if any(_I18NEXT_MARKUP.search(v) for v in entry.values()):
            report.warnings.append(
                f"{doc['id']} ({lang}): text contains i18next markup ({{{{...}}}} or $t()); "
                "read it with t(key, {skipInterpolation: true})"
            )
        entries[lang][doc["id"]] = entry
    return {lang: e for lang, e in entries.items() if e}


def export_i18next(view: RunView, to: Path, report: ExportReport) -> None:
    """Write one `locales/<lng>/articles.json` per language, keys sorted."""
    entries = locale_entries(view, report)
    for lang, resources in entries.items():
        text = json.dumps(resources, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        write_text(to / "locales" / lang / f"{NAMESPACE}.json", text)
        report.files_written += 1
    report.languages = tuple(entries)
