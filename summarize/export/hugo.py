"""Hugo export: one Markdown page per article and language, plus a minimal multilingual site.

Layout written into the target folder DIR:

    DIR/content/en/<id>.md        DIR/content/ko/<id>.md        DIR/content/zh-hans/<id>.md
    DIR/hugo.toml                 DIR/layouts/_default/{baseof,list,single}.html, index.html

An id's slashes become subfolders (Hugo sections). Pages carry TOML front matter
(`+++`): title, date (from the source's meta.date when it parses as an ISO date),
summary, translationKey (the article id, which links the language versions),
source_url, lang (BCP-47), source_lang and draft = false. `hugo --source DIR`
builds a previewable site as it is (checked against Hugo 0.111).

Into an existing site: copy `content/<lang>/` into the site's content folder for
that language, where the site defines the languages `en`, `ko` and `zh-hans`
(Hugo language keys are lowercase), each with `contentDir = "content/<lang>"`;
the pages need no layout of their own. When DIR already holds a Hugo config that
this exporter did not write, only `content/` is written: the site's own config
and layouts are left alone.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from summarize.export.run import (
    SOURCE_LANG,
    ExportError,
    ExportReport,
    RunView,
    Texts,
    iter_texts,
    write_text,
)

MARKER = "# Written by `summarize export --format hugo`; rewritten on every export."
SITE_CONFIGS = (
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
)

# BCP-47 tag -> (Hugo language key, language name shown in links)
HUGO_LANGS: dict[str, tuple[str, str]] = {
    "en": ("en", "English"),
    "ko": ("ko", "한국어"),
    "zh-Hans": ("zh-hans", "简体中文"),
}

_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
# A whole `{{< … >}}` / `{{% … %}}` with no other opener inside, or else a lone opener.
_SHORTCODE = re.compile(r"\{\{([<%])(?:((?:(?!\{\{[<%]).)*?)([>%])\}\})?", re.DOTALL)
_RESERVED_NAMES = {"index", "_index"}  # Hugo bundle/section files, not pages


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in value:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_date(value: Any) -> str | None:
    """A TOML date/datetime literal for an ISO 8601 date string; None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return None


def escape_shortcodes(body: str) -> str:
    """Keep Hugo from reading shortcodes in article text, so it shows as written.

    A complete `{{< x >}}` gets Hugo's own escape `{{</* x */>}}` (verbatim even in
    code spans); an opener without its closer gets a Markdown backslash before its
    `<` or `%`.
    """
    return _SHORTCODE.sub(_escape_one, body)


def _escape_one(m: re.Match[str]) -> str:
    if m[3] is None:
        return "{{\\" + m[1]
    return "{{" + m[1] + "/*" + m[2] + "*/" + m[3] + "}}"


def front_matter(doc: dict[str, Any], texts: Texts) -> str:
    """The `+++`-delimited TOML front matter of one page."""
    source = doc["source"]
    meta = source.get("meta") or {}
    lines = [f"title = {toml_string(texts.title)}"]
    when = toml_date(meta.get("date"))
    if when:
        lines.append(f"date = {when}")
    if texts.summary is not None:
        lines.append(f"summary = {toml_string(texts.summary)}")
    lines.append(f"translationKey = {toml_string(doc['id'])}")
    lines.append(f"lang = {toml_string(texts.lang)}")
    lines.append(f"source_lang = {toml_string(source.get('lang') or SOURCE_LANG)}")
    url = meta.get("url")
    if isinstance(url, str) and url.strip():
        lines.append(f"source_url = {toml_string(url.strip())}")
    lines.append("draft = false")
    return "+++\n" + "\n".join(lines) + "\n+++\n"


def page(doc: dict[str, Any], texts: Texts) -> str:
    """A whole Markdown page: front matter, a blank line, the body."""
    return front_matter(doc, texts) + "\n" + escape_shortcodes(texts.body).rstrip("\n") + "\n"


def page_path(article_id: str, hugo_lang: str) -> str:
    """`content/<lang>/<id>.md`, as a string (pathlib would intern every article's name)."""
    parts = article_id.split("/")
    if any(p in _RESERVED_NAMES for p in parts):
        raise ExportError(
            f"article id {article_id!r} cannot be a Hugo page: "
            f"'index' and '_index' are reserved file names in Hugo"
        )
    return "/".join(("content", hugo_lang, *parts[:-1], parts[-1] + ".md"))


def site_config(langs: tuple[str, ...]) -> str:
    """A minimal hugo.toml: one language per exported language, each with its contentDir."""
    lines = [
        MARKER,
        'baseURL = "/"',
        'title = "summarize"',
        'defaultContentLanguage = "en"',
        "hasCJKLanguage = true",
        'disableKinds = ["taxonomy", "term"]',
    ]
    for weight, lang in enumerate(langs, start=1):
        key, name = HUGO_LANGS[lang]
        lines += [
            "",
            f"[languages.{key}]",
            f"languageCode = {toml_string(lang)}",
            f"languageName = {toml_string(name)}",
            f"contentDir = {toml_string('content/' + key)}",
            f"weight = {weight}",
        ]
    return "\n".join(lines) + "\n"


_BASEOF = """\
<!DOCTYPE html>
<html lang="{{ .Site.LanguageCode }}">
<head>
<meta charset="utf-8">
<title>{{ if not .IsHome }}{{ .Title }} | {{ end }}{{ .Site.Title }}</title>
{{ range .AllTranslations }}<link rel="alternate" hreflang="{{ .Site.LanguageCode }}" href="{{ .Permalink }}">
{{ end }}</head>
<body>
<nav class="languages">{{ range .Translations }}<a href="{{ .RelPermalink }}" hreflang="{{ .Site.LanguageCode }}">{{ .Language.LanguageName }}</a> {{ end }}</nav>
<main>{{ block "main" . }}{{ end }}</main>
</body>
</html>
"""

_SINGLE = """\
{{ define "main" }}<article>
<h1>{{ .Title }}</h1>
{{ if not .Date.IsZero }}<p><time datetime="{{ .Date.Format "2006-01-02" }}">{{ .Date.Format "2006-01-02" }}</time></p>{{ end }}
{{ with .Params.summary }}<p class="summary">{{ . }}</p>{{ end }}
{{ .Content }}
{{ with .Params.source_url }}<p class="source"><a href="{{ . }}">{{ . }}</a></p>{{ end }}
{{ with .Translations }}<ul class="translations">
{{ range . }}<li><a href="{{ .RelPermalink }}" hreflang="{{ .Site.LanguageCode }}">{{ .Language.LanguageName }}: {{ .Title }}</a></li>
{{ end }}</ul>{{ end }}
</article>{{ end }}
"""

_PAGE_LIST = """\
<ul class="articles">
{{ range . }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ with .Params.summary }}<p>{{ . }}</p>{{ end }}</li>
{{ end }}</ul>"""

_LIST = (
    '{{ define "main" }}<h1>{{ .Title }}</h1>\n{{ with .Pages }}'
    + _PAGE_LIST
    + "{{ end }}{{ end }}\n"
)
_INDEX = (
    '{{ define "main" }}<h1>{{ .Site.Title }}</h1>\n{{ with .Site.RegularPages }}'
    + _PAGE_LIST
    + "{{ end }}{{ end }}\n"
)

LAYOUTS = {
    "layouts/_default/baseof.html": _BASEOF,
    "layouts/_default/single.html": _SINGLE,
    "layouts/_default/list.html": _LIST,
    "layouts/index.html": _INDEX,
}


def _owns_site(to: Path) -> bool:
    """True unless `to` holds a Hugo config written by someone else."""
    for name in SITE_CONFIGS:
        cfg = to / name
        if cfg.exists():
            return name == "hugo.toml" and cfg.read_text(encoding="utf-8").startswith(MARKER)
    return True


def export_hugo(view: RunView, to: Path, report: ExportReport) -> None:
    """Write the pages (and, unless `to` is someone else's site, the config and layouts)."""
    langs = view.languages()
    written: set[str] = set()
    for doc, lang, texts in iter_texts(view, report):
        path = page_path(doc["id"], HUGO_LANGS[lang][0])  # lang is validated: see iter_texts
        write_text(os.path.join(to, path), page(doc, texts))  # one page at a time
        report.files_written += 1
        written.add(lang)
    report.languages = tuple(lang for lang in langs if lang in written)
    if not _owns_site(to):
        report.warnings.append(f"{to} has its own Hugo config: wrote content/ only")
        return
    write_text(to / "hugo.toml", site_config(report.languages or (SOURCE_LANG,)))
    for rel, text in LAYOUTS.items():
        write_text(to / rel, text)
    report.files_written += 1 + len(LAYOUTS)
