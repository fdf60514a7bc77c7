"""Exporters (Hugo, i18next, XLIFF 2.0) and the reviewed-XLIFF reader, on a hand-written run."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
import subprocess
import tomllib
import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree, html

from summarize.errors import SummarizeError
from summarize.export import ExportError, export_run, open_run, read_xliff
from summarize.export.hugo import escape_shortcodes, toml_date, toml_string

FIXTURE = Path(__file__).parent / "fixtures" / "run"
JS_DIR = Path(__file__).parent / "js"
NS = "urn:oasis:names:tc:xliff:document:2.0"
X = f"{{{NS}}}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
LANGS = ("en", "ko", "zh-Hans")
HUGO_KEYS = {"en": "en", "ko": "ko", "zh-Hans": "zh-hans"}
IDS = ("brief", "tech-notes", "world/floods")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture run."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def article(run: Path, article_id: str) -> dict[str, Any]:
    return json.loads((run / "articles" / f"{article_id}.json").read_text(encoding="utf-8"))


def save_article(run: Path, doc: dict[str, Any]) -> None:
    path = run / "articles" / f"{doc['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def texts(doc: dict[str, Any], lang: str) -> dict[str, str]:
    src = doc["source"] if lang == "en" else doc["translations"][lang]
    return {"title": src["title"], "body": src["body"], "summary": doc["summary"][lang]}


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- opening runs ---------------------------------------------------------------------------


def test_open_run_follows_an_output_folders_latest_link(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(FIXTURE, out / "20261102T101500000000Z-abcdef12")
    (out / "latest").symlink_to("20261102T101500000000Z-abcdef12")
    view = open_run(out)
    assert view.run_id == "20261102T101500000000Z-abcdef12"
    assert view.article_ids() == list(IDS)
    assert [doc["id"] for doc in view.articles()] == list(IDS)


def _no_manifest(run: Path) -> None:
    (run / "manifest.json").unlink()


def _bad_manifest(run: Path) -> None:
    (run / "manifest.json").write_text("{not json", encoding="utf-8")


def _running(run: Path) -> None:
    (run / "manifest.json").write_text('{"run_id": "r1", "status": "running"}', encoding="utf-8")


def _no_articles(run: Path) -> None:
    shutil.rmtree(run / "articles")


def _id_mismatch(run: Path) -> None:
    doc = article(run, "brief")
    doc["id"] = "other"
    (run / "articles" / "brief.json").write_text(json.dumps(doc), encoding="utf-8")


def _broken_article(run: Path) -> None:
    (run / "articles" / "world" / "floods.json").write_text(
        '{"id": "world/floods"', encoding="utf-8"
    )


def _no_source_title(run: Path) -> None:
    doc = article(run, "tech-notes")
    del doc["source"]["title"]
    save_article(run, doc)


def _repeated_segment(run: Path) -> None:
    doc = article(run, "brief")
    doc["segments"].append(dict(doc["segments"][-1]))
    save_article(run, doc)


def _segment_without_position(run: Path) -> None:
    doc = article(run, "brief")
    doc["segments"][1]["para"] = "0"
    save_article(run, doc)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_no_manifest, "not a run folder"),
        (_bad_manifest, "cannot read"),
        (_running, "run r1 is running, not complete"),
        (_no_articles, "has no articles/ folder"),
        (_id_mismatch, "does not match its path"),
        (_broken_article, "floods.json"),
        (_no_source_title, "'source.title' is missing"),
        (_repeated_segment, "brief.json is not a valid article: segment 4 repeats summary/p0s0"),
        (_segment_without_position, "segment 1 has no integer para/sent"),
    ],
)
@pytest.mark.parametrize("fmt", ["hugo", "i18next", "xliff"])
def test_invalid_runs_are_refused_with_a_clear_message(
    run_dir: Path, tmp_path: Path, damage: Any, message: str, fmt: Any
) -> None:
    damage(run_dir)
    with pytest.raises(ExportError, match=re.escape(message)) as info:
        export_run(run_dir, fmt, tmp_path / "export")
    assert isinstance(info.value, SummarizeError)


def test_missing_folder_and_unknown_format_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no run folder"):
        export_run(tmp_path / "nope", "hugo", tmp_path / "x")
    with pytest.raises(ExportError, match="unknown export format 'pdf'"):
        export_run(FIXTURE, "pdf", tmp_path / "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["hugo", "i18next", "xliff"])
def test_exports_are_byte_identical_when_repeated(tmp_path: Path, fmt: Any) -> None:
    first = export_run(FIXTURE, fmt, tmp_path / "a")
    export_run(FIXTURE, fmt, tmp_path / "b")
    assert all_files(tmp_path / "a") == all_files(tmp_path / "b")
    assert first.files_written == len(all_files(tmp_path / "a"))
    assert first.articles == 3


def _drop_language(run: Path, lang: str) -> None:
    for article_id in IDS:
        doc = article(run, article_id)
        doc["translations"].pop(lang)
        doc["summary"].pop(lang)
        for seg in doc["segments"]:
            seg.pop(lang)
        save_article(run, doc)


@pytest.mark.parametrize(
    ("fmt", "present", "absent"),
    [
        ("hugo", "content/ko/brief.md", "content/zh-hans"),
        ("i18next", "locales/ko/articles.json", "locales/zh-Hans"),
        ("xliff", "ko.xlf", "zh-Hans.xlf"),
    ],
)
def test_a_language_the_run_lacks_is_skipped(
    run_dir: Path, tmp_path: Path, fmt: Any, present: str, absent: str
) -> None:
    _drop_language(run_dir, "zh-Hans")
    out = tmp_path / "export"
    report = export_run(run_dir, fmt, out)
    assert (out / present).exists()
    assert not (out / absent).exists()
    assert "zh-Hans" not in report.languages
    if fmt == "hugo":
        assert "zh-hans" not in tomllib.loads((out / "hugo.toml").read_text())["languages"]


HOSTILE_LANGS = ["../../escaped", "fr", "ko/../../escaped", "..", "KO"]


@pytest.mark.parametrize("fmt", ["hugo", "i18next", "xliff"])
def test_language_keys_outside_the_run_languages_never_become_paths(
    tmp_path: Path, fmt: Any
) -> None:
    baseline = tmp_path / "baseline"
    export_run(FIXTURE, fmt, baseline)
    run = Path(shutil.copytree(FIXTURE, tmp_path / "deep" / "er" / "run"))
    doc = article(run, "brief")
    keys = [*HOSTILE_LANGS, str(tmp_path / "abs")]  # an absolute path replaces the base
    for key in keys:
        doc["translations"][key] = {"title": "pwned", "body": "pwned"}
        doc["summary"][key] = "pwned"
        for seg in doc["segments"]:
            seg[key] = "pwned"
    save_article(run, doc)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["languages"] += ["../../escaped"]
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = {p for p in tmp_path.rglob("*")}

    out = tmp_path / "deep" / "er" / "export"
    report = export_run(run, fmt, out)

    assert all_files(out) == all_files(baseline)  # the hostile keys changed nothing written
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p == out or out in p.parents for p in created), sorted(created)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "abs").exists()
    assert report.languages in (("en", "ko", "zh-Hans"), ("ko", "zh-Hans"))
    for key in keys:
        assert any(f"brief: language key {key!r} is not one of" in w for w in report.warnings)
    assert any("manifest languages '../../escaped'" in w for w in report.warnings)


def test_only_the_manifest_languages_are_exported(run_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["languages"] = ["ko"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = export_run(run_dir, "i18next", tmp_path / "web")
    assert report.languages == ("en", "ko")
    assert not (tmp_path / "web" / "locales" / "zh-Hans").exists()
    assert any("language key 'zh-Hans' is not one of the run's languages (ko)" in w
               for w in report.warnings)


def test_one_untranslated_article_is_reported_not_fatal(run_dir: Path, tmp_path: Path) -> None:
    doc = article(run_dir, "brief")
    del doc["translations"]["ko"]
    save_article(run_dir, doc)
    report = export_run(run_dir, "hugo", tmp_path / "site")
    assert report.skipped == ["brief (ko): no translation"]
    assert not (tmp_path / "site/content/ko/brief.md").exists()
    assert (tmp_path / "site/content/ko/tech-notes.md").exists()


# -- Hugo -----------------------------------------------------------------------------------


def front_matter(page: Path) -> tuple[dict[str, Any], str]:
    text = page.read_text(encoding="utf-8")
    _, fm, body = text.split("+++\n", 2)
    return tomllib.loads(fm), body


def test_hugo_writes_one_page_per_article_and_language(tmp_path: Path) -> None:
    report = export_run(FIXTURE, "hugo", tmp_path)
    pages = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "content").rglob("*.md"))
    assert pages == sorted(
        f"content/{key}/{article_id}.md" for key in HUGO_KEYS.values() for article_id in IDS
    )
    assert report.languages == LANGS
    config = tomllib.loads((tmp_path / "hugo.toml").read_text(encoding="utf-8"))
    assert config["defaultContentLanguage"] == "en"
    assert config["hasCJKLanguage"] is True
    assert {k: v["contentDir"] for k, v in config["languages"].items()} == {
        key: f"content/{key}" for key in HUGO_KEYS.values()
    }
    for layout in (
        "_default/baseof.html",
        "_default/list.html",
        "_default/single.html",
        "index.html",
    ):
        assert (tmp_path / "layouts" / layout).is_file()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("article_id", "when", "url"),
    [
        ("world/floods", date(2026, 11, 2), "https://example.org/news/floods?id=1&lang=en"),
        ("tech-notes", datetime(2026, 10, 30, 8, 15, tzinfo=UTC), "https://example.org/tech/notes"),
        ("brief", None, None),
    ],
)
def test_hugo_front_matter_and_body(
    tmp_path: Path, lang: str, article_id: str, when: Any, url: str | None
) -> None:
    export_run(FIXTURE, "hugo", tmp_path)
    fm, body = front_matter(tmp_path / "content" / HUGO_KEYS[lang] / f"{article_id}.md")
    expected = texts(article(FIXTURE, article_id), lang)
    assert fm["title"] == expected["title"]
    assert fm["summary"] == expected["summary"]
    assert fm["translationKey"] == article_id
    assert (fm["lang"], fm["source_lang"], fm["draft"]) == (lang, "en", False)
    assert fm.get("date") == when
    assert fm.get("source_url") == url
    assert body == "\n" + escape_shortcodes(expected["body"]) + "\n"


@pytest.mark.parametrize(
    "title",
    [
        'He said: "no"',
        "a\nb\r\nc",
        "tab\there",
        "back\\slash \\n",
        "+++\n[x]",
        "ctrl \x01\x7f",
        "홍수 '특보'",
        '洪水："最严重"',
        "emoji 🌊",
        "key = value # not a comment",
        "",
    ],
)
def test_toml_strings_round_trip_tricky_titles(title: str) -> None:
    assert tomllib.loads(f"title = {toml_string(title)}")["title"] == title


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_toml_strings_round_trip_any_text(text: str) -> None:
    assert tomllib.loads(f"t = {toml_string(text)}")["t"] == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-02", date(2026, 11, 2)),
        (" 2026-11-02 ", date(2026, 11, 2)),
        ("2026-11-02T10:00:00", datetime(2026, 11, 2, 10)),
        (
            "2026-11-02T10:00:00+09:00",
            datetime(2026, 11, 2, 10, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("2026-11-02T10:00:00Z", datetime(2026, 11, 2, 10, tzinfo=UTC)),
        ("Nov 2, 2026", None),
        ("", None),
        (20261102, None),
        (None, None),
    ],
)
def test_toml_date_accepts_only_iso_dates(raw: Any, expected: Any) -> None:
    literal = toml_date(raw)
    got = None if literal is None else tomllib.loads(f"d = {literal}")["d"]
    assert got == expected


@pytest.mark.parametrize(
    ("body", "escaped"),
    [
        ("plain {{name}} text", "plain {{name}} text"),
        ('a {{< figure src="x" >}} b', 'a {{</* figure src="x" */>}} b'),
        ("{{% note %}}x{{% /note %}}", "{{%/* note */%}}x{{%/* /note */%}}"),
        ("lone {{< opener", "lone {{\\< opener"),
        ("lone {{< y then {{<x>}}", "lone {{\\< y then {{</*x*/>}}"),
        ("`{{< code >}}`", "`{{</* code */>}}`"),
    ],
)
def test_shortcodes_in_article_text_are_escaped(body: str, escaped: str) -> None:
    assert escape_shortcodes(body) == escaped


def test_hugo_refuses_ids_that_hugo_reserves(run_dir: Path, tmp_path: Path) -> None:
    doc = article(run_dir, "brief")
    save_article(run_dir, {**doc, "id": "world/_index"})
    with pytest.raises(ExportError, match="'world/_index' cannot be a Hugo page"):
        export_run(run_dir, "hugo", tmp_path / "site")


def test_hugo_leaves_an_existing_sites_config_and_layouts_alone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "hugo.toml").write_text('title = "Mine"\n', encoding="utf-8")
    report = export_run(FIXTURE, "hugo", site)
    assert (site / "hugo.toml").read_text(encoding="utf-8") == 'title = "Mine"\n'
    assert not (site / "layouts").exists()
    assert (site / "content/zh-hans/world/floods.md").is_file()
    assert report.files_written == 9
    assert "wrote content/ only" in report.warnings[0]
    # ...while a config this exporter wrote is rewritten
    export_run(FIXTURE, "hugo", tmp_path / "own")
    report = export_run(FIXTURE, "hugo", tmp_path / "own")
    assert report.files_written == 14 and not report.warnings


NASTY_BODIES = [
    "lone {{< opener and a {{% one",
    'a {{< figure src="x" >}} and `{{< in code >}}`',
    "already escaped {{</* x */>}} stays",
    "+++\nnot = 'front matter'\n+++",
]


@pytest.mark.skipif(
    shutil.which("hugo") is None, reason="hugo is not on PATH (apt-get install hugo)"
)
def test_hugo_builds_the_exported_site(run_dir: Path, tmp_path: Path) -> None:
    extra = article(run_dir, "brief")
    extra["source"]["title"] = 'Two\nlines: "quoted" \\ {{< x >}}'
    extra["source"]["body"] = "\n\n".join(NASTY_BODIES)
    for lang in ("ko", "zh-Hans"):
        extra["translations"][lang]["body"] = "\n\n".join(NASTY_BODIES)
    save_article(run_dir, {**extra, "id": "odd/nasty-1"})
    export_run(run_dir, "hugo", tmp_path / "src")

    out = tmp_path / "public"
    proc = subprocess.run(
        ["hugo", "--source", str(tmp_path / "src"), "--destination", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    prefix = {"en": "", "ko": "/ko", "zh-Hans": "/zh-hans"}
    for article_id in IDS:
        doc = article(run_dir, article_id)
        for lang in LANGS:
            page = html.parse(str(out / prefix[lang].lstrip("/") / article_id / "index.html"))
            assert page.getroot().get("lang") == lang
            assert page.findtext(".//h1") == texts(doc, lang)["title"]
            assert page.find(".//p[@class='summary']").text == texts(doc, lang)["summary"]
            links = {
                a.get("href"): a.text_content()
                for a in page.iterfind(".//ul[@class='translations']//a")
            }
            assert links == {
                f"{prefix[other]}/{article_id}/": f"{other_name}: {texts(doc, other)['title']}"
                for other, other_name in (
                    ("en", "English"),
                    ("ko", "한국어"),
                    ("zh-Hans", "简体中文"),
                )
                if other != lang
            }
    tech = html.parse(str(out / "ko/tech-notes/index.html"))
    text = tech.getroot().text_content()
    assert "{{name}}" in text and "{{% note %}}" in text and "{{< figure src=" in text
    assert tech.find(".//a[@href='https://example.org/guide?a=1&b=2']") is not None
    assert tech.findtext(".//code") == "pip install summarize"
    nasty = html.parse(str(out / "odd/nasty-1/index.html")).getroot()
    assert nasty.findtext(".//h1") == 'Two\nlines: "quoted" \\ {{< x >}}'
    assert "lone {{< opener and a {{% one" in nasty.text_content()
    assert nasty.find(".//time") is None  # the article has no date
    assert "{{< in code >}}" in [c.text for c in nasty.iterfind(".//code")]


# -- i18next --------------------------------------------------------------------------------


def t(resources: dict[str, Any], key: str) -> Any:
    """Resolve a key the way i18next does with its default keySeparator '.'."""
    return reduce(lambda node, part: node[part], key.split("."), resources)


@pytest.mark.parametrize("lang", LANGS)
def test_i18next_files_nest_keys_by_article_id(tmp_path: Path, lang: str) -> None:
    export_run(FIXTURE, "i18next", tmp_path)
    path = tmp_path / "locales" / lang / "articles.json"
    resources = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(resources) == list(IDS)
    for article_id in IDS:
        expected = texts(article(FIXTURE, article_id), lang)
        for part in ("title", "summary", "body"):
            assert t(resources, f"{article_id}.{part}") == expected[part]
    raw = path.read_text(encoding="utf-8")
    assert "\\u" not in raw  # Korean/Chinese written as UTF-8, not escaped
    assert raw == json.dumps(resources, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def test_i18next_warns_about_texts_i18next_would_interpolate(tmp_path: Path) -> None:
    report = export_run(FIXTURE, "i18next", tmp_path)
    assert [w.split(":")[0] for w in report.warnings] == [
        "tech-notes (en)",
        "tech-notes (ko)",
        "tech-notes (zh-Hans)",
    ]
    assert all("skipInterpolation" in w for w in report.warnings)


def run_i18next(locales: Path, queries: list[dict[str, Any]]) -> list[Any]:
    proc = subprocess.run(
        ["node", str(JS_DIR / "check_i18next.mjs"), str(locales)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
@pytest.mark.skipif(
    not (JS_DIR / "node_modules" / "i18next").is_dir(),
    reason="i18next is not installed: run `npm ci --prefix tests/js`",
)
def test_real_i18next_returns_the_texts_verbatim(tmp_path: Path) -> None:
    export_run(FIXTURE, "i18next", tmp_path)
    verbatim = {"skipInterpolation": True}
    tech_ko = texts(article(FIXTURE, "tech-notes"), "ko")
    queries = [
        {"lng": "ko", "key": "world/floods.title"},
        {"lng": "zh-Hans", "key": "world/floods.title"},
        {"lng": "zh-Hans", "key": "brief.summary"},
        {"lng": "ko", "key": "tech-notes.body", "options": verbatim},
        {"lng": "ko", "key": "tech-notes.summary", "options": {**verbatim, "name": "X"}},
        {"lng": "ko", "key": "tech-notes.body"},
    ]
    answers = run_i18next(tmp_path / "locales", queries)
    floods, brief = article(FIXTURE, "world/floods"), article(FIXTURE, "brief")
    assert answers[:5] == [
        floods["translations"]["ko"]["title"],
        floods["translations"]["zh-Hans"]["title"],
        brief["summary"]["zh-Hans"],
        tech_ko["body"],
        tech_ko["summary"],
    ]
    assert "{{name}}" in answers[3] and "{{ns}}" in answers[3] and "$t(key)" in answers[3]
    # Why the exporter tells consumers to pass skipInterpolation: plain t() rewrites {{ns}}.
    assert answers[5] != tech_ko["body"]


# -- XLIFF ----------------------------------------------------------------------------------

STRUCTURE = {  # element -> the children XLIFF 2.0 core allows it (of those we use), in order
    "xliff": ["file"],
    "file": ["notes", "unit", "group"],
    "notes": ["note"],
    "unit": ["notes", "segment", "ignorable"],
    "segment": ["source", "target"],
}
NMTOKEN = re.compile(r"[\w.:-]+\Z")


SUM_NS = "urn:x-summarize:xliff:1"
SEGMENT_ATTRS = {"id", "canResegment", "state", "subState"}  # the schema allows no others


def check_xliff_structure(root: etree._Element) -> None:
    """A structural check against XLIFF 2.0 core (no XSD is available offline).

    Elements of other namespaces are allowed only where the core schema has an extension
    point that we use: first in a <unit>, before its <notes> and segments.
    """
    assert root.tag == X + "xliff"
    assert root.get("version") == "2.0"
    file_ids = [f.get("id") for f in root]
    assert len(file_ids) == len(set(file_ids))
    for el in root.iter(etree.Element):
        name = etree.QName(el).localname
        if etree.QName(el).namespace == SUM_NS:
            parent = el.getparent()
            if etree.QName(parent).namespace == NS:
                assert etree.QName(parent).localname == "unit", parent.tag
                before = list(parent)[: parent.index(el)]
                assert all(etree.QName(c).namespace != NS for c in before)
            continue
        assert etree.QName(el).namespace == NS, el.tag
        if name == "segment":
            assert set(el.attrib) <= SEGMENT_ATTRS, el.attrib
        if name in STRUCTURE:
            kids = [etree.QName(c).localname for c in el if etree.QName(c).namespace == NS]
            assert set(kids) <= set(STRUCTURE[name]), (name, kids)
            order = [STRUCTURE[name].index(k) for k in kids]
            assert order == sorted(order), (name, kids)
            assert (el.text or "").strip() == ""
        if name in ("file", "unit", "segment"):
            assert NMTOKEN.match(el.get("id", "")), el.get("id")
        if name == "unit":
            ids = [s.get("id") for s in el.iter(X + "segment")]
            assert len(ids) == len(set(ids))
            assert el.find(X + "segment") is not None
        if name == "segment":
            assert el.get("state") in ("initial", "translated", "reviewed", "final")
            assert el.find(X + "source") is not None
            if el.get("state") != "initial":
                assert el.find(X + "target") is not None
        if name in ("source", "target"):
            assert el.get(XML_SPACE) == "preserve"


@pytest.mark.parametrize("lang", ["ko", "zh-Hans"])
def test_xliff_files_follow_the_core_structure(tmp_path: Path, lang: str) -> None:
    report = export_run(FIXTURE, "xliff", tmp_path)
    assert report.languages == ("ko", "zh-Hans")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ko.xlf", "zh-Hans.xlf"]
    raw = (tmp_path / f"{lang}.xlf").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = etree.fromstring(raw)
    check_xliff_structure(root)
    assert (root.get("srcLang"), root.get("trgLang")) == ("en", lang)
    assert [(f.get("id"), f.get("original")) for f in root] == [
        ("brief", "brief"),
        ("tech-notes", "tech-notes"),
        ("world.floods", "world/floods"),
    ]
    floods = root.find(f"{X}file[@original='world/floods']")
    units = {u.get("id"): [s.get("id") for s in u.iter(X + "segment")] for u in floods}
    assert units == {"title": ["p0s0"], "summary": ["p0s0"], "body": ["p0s0", "p0s1", "p1s0"]}
    doc = article(FIXTURE, "world/floods")
    for seg in doc["segments"]:
        el = floods.find(
            f"{X}unit[@id='{seg['part']}']/{X}segment[@id='p{seg['para']}s{seg['sent']}']"
        )
        assert el.findtext(X + "source") == seg["en"]
        assert el.findtext(X + "target") == seg[lang]


def test_xliff_escapes_markup_characters(tmp_path: Path) -> None:
    export_run(FIXTURE, "xliff", tmp_path)
    raw = (tmp_path / "ko.xlf").read_text(encoding="utf-8")
    assert "How to write &lt;code&gt; &amp; ship it" in raw
    assert "guide?a=1&amp;b=2" in raw
    root = etree.fromstring(raw.encode())
    title = root.find(f"{X}file[@id='tech-notes']/{X}unit[@id='title']/{X}segment")
    assert title.findtext(X + "source") == "How to write <code> & ship it"


@pytest.mark.parametrize(
    ("lang", "article_id", "unit", "segment", "state", "note"),
    [
        (
            "ko",
            "tech-notes",
            "body",
            "p1s1",
            "initial",
            "p1s1: numbers differ: source has 3 < 4 & 5 > 2",
        ),
        ("zh-Hans", "tech-notes", "body", "p1s1", "translated", None),
        (
            "zh-Hans",
            "brief",
            "body",
            "p0s1",
            "initial",
            'p0s1: target mixes scripts: "能源" & <Latin>',
        ),
        ("ko", "world.floods", "title", "p0s0", "reviewed", None),  # a human's translation
        ("zh-Hans", "world.floods", "title", "p0s0", "translated", None),
    ],
)
def test_xliff_states_and_qa_notes(
    tmp_path: Path,
    lang: str,
    article_id: str,
    unit: str,
    segment: str,
    state: str,
    note: str | None,
) -> None:
    export_run(FIXTURE, "xliff", tmp_path)
    root = etree.parse(str(tmp_path / f"{lang}.xlf")).getroot()
    unit_el = root.find(f"{X}file[@id='{article_id}']/{X}unit[@id='{unit}']")
    assert unit_el.find(f"{X}segment[@id='{segment}']").get("state") == state
    notes = [n.text for n in unit_el.iterfind(f"{X}notes/{X}note")]
    assert notes == ([note] if note else [])


def test_xliff_round_trip_returns_a_reviewers_edit(tmp_path: Path) -> None:
    export_run(FIXTURE, "xliff", tmp_path)
    path = tmp_path / "ko.xlf"
    before = read_xliff(path)
    assert len(before) == 15  # every sentence of the three articles has a ko target
    tree = etree.parse(str(path))
    seg = tree.find(
        f".//{X}file[@original='world/floods']/{X}unit[@id='body']/{X}segment[@id='p1s0']"
    )
    seg.find(X + "target").text = "관계자들은 물이 금요일까지 빠질 것이라고 밝혔다 & <확인>."
    seg.set("state", "final")
    emptied = tree.find(f".//{X}file[@original='brief']/{X}unit[@id='title']/{X}segment")
    emptied.find(X + "target").text = "  "
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")

    after = read_xliff(path)
    assert len(after) == 14
    edited = [
        s for s in after if (s.article_id, s.part, s.para, s.sent) == ("world/floods", "body", 1, 0)
    ]
    assert len(edited) == 1
    assert edited[0].target == "관계자들은 물이 금요일까지 빠질 것이라고 밝혔다 & <확인>."
    assert edited[0].state == "final"
    assert edited[0].lang == "ko"
    assert edited[0].source == "Officials said the water would recede by Friday."
    assert not any(s.article_id == "brief" and s.part == "title" for s in after)


def test_xliff_carries_characters_xml_cannot_hold(run_dir: Path, tmp_path: Path) -> None:
    doc = article(run_dir, "brief")
    doc["segments"][0]["ko"] = "vertical\x0btab and bell\x07"
    save_article(run_dir, doc)
    export_run(run_dir, "xliff", tmp_path)
    raw = (tmp_path / "ko.xlf").read_text(encoding="utf-8")
    assert '<cp hex="000B"/>' in raw and '<cp hex="0007"/>' in raw
    got = next(s for s in read_xliff(tmp_path / "ko.xlf") if s.article_id == "brief")
    assert got.target == "vertical\x0btab and bell\x07"


def _xliff(body: str, *, root_attrs: str = 'version="2.0" srcLang="en" trgLang="ko"') -> str:
    return (
        f'<xliff xmlns="{NS}" {root_attrs}><file id="world.floods" original="world/floods">'
        f'<unit id="body">{body}</unit></file></xliff>'
    )


GOOD_SEGMENT = (
    '<segment id="p0s0" state="translated"><source>A</source><target>가</target></segment>'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_xliff(GOOD_SEGMENT)[:-20], "not well-formed XML"),
        ('<xliff version="2.0"/>', "not <xliff> in namespace"),
        (
            _xliff(GOOD_SEGMENT, root_attrs='version="1.2" srcLang="en" trgLang="ko"'),
            "version '1.2'",
        ),
        (_xliff(GOOD_SEGMENT, root_attrs='version="2.0" srcLang="en"'), "no trgLang"),
        (
            _xliff(GOOD_SEGMENT).replace('id="body"', 'id="bodies"'),
            "article 'world/floods', unit 'bodies': unit id must be one of",
        ),
        (
            _xliff(GOOD_SEGMENT.replace("p0s0", "s1")),
            "article 'world/floods', unit 'body', segment 's1': segment id must look like",
        ),
        (_xliff(GOOD_SEGMENT.replace("translated", "done")), "state 'done' is not one of"),
        (_xliff('<segment id="p0s0"><target>가</target></segment>'), "segment has no <source>"),
        (_xliff(GOOD_SEGMENT + GOOD_SEGMENT), "segment 'p0s0': duplicate segment"),
        (
            _xliff(GOOD_SEGMENT.replace("<target>가", '<target>가<ph id="1"/>')),
            "unsupported inline element <ph>",
        ),
    ],
)
def test_read_xliff_rejects_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "reviewed.xlf"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError, match=re.escape(message)) as info:
        read_xliff(path)
    assert str(path) in str(info.value)


def test_read_xliff_unwraps_reviewer_markup(tmp_path: Path) -> None:
    path = tmp_path / "reviewed.xlf"
    path.write_text(
        _xliff(
            '<segment id="p2s3" state="reviewed"><source>A &amp; B</source>'
            '<target>\n  <mrk id="m1" type="comment" value="ok">가</mrk> &amp; <pc id="p">나</pc><cp hex="0001"/>\n'
            "</target></segment>"
            '<segment id="p2s4"><source>untranslated</source></segment>'
        ),
        encoding="utf-8",
    )
    assert [(s.para, s.sent, s.source, s.target, s.state) for s in read_xliff(path)] == [
        (2, 3, "A & B", "가 & 나\x01", "reviewed")
    ]


# -- streaming: golden bytes and flat memory -------------------------------------------------

EN_WORDS = ("storm", "market", "council", "river", "vote", "school", "budget", "bridge",
            "farmers", "court", "energy", "rail", "harbour", "museum", "clinic", "drought")
KO_WORDS = ("폭풍", "시장", "의회", "강", "투표", "학교", "예산", "다리", "농민", "법원", "에너지",
            "철도", "항구", "박물관", "병원", "가뭄")
ZH_WORDS = ("风暴", "市场", "议会", "河流", "投票", "学校", "预算", "桥梁", "农民", "法院", "能源",
            "铁路", "港口", "博物馆", "诊所", "干旱")
# Ids whose string order differs from a naive walk of their folders ("-" < "/" < "0").
GOLDEN_IDS = ("a-b", "a/x", "a0", "world/floods-2", "world/sub/deep", "zeta")


def _words(words: tuple[str, ...], n: int, k: int, sep: str) -> str:
    return sep.join(words[(n * 7 + j * 3) % len(words)] for j in range(k))


def _sentence(lang: str, n: int) -> str:
    k = 3 + n % 6
    if lang == "en":
        return _words(EN_WORDS, n, k, " ").capitalize() + f" rose {n % 97} percent."
    if lang == "ko":
        return _words(KO_WORDS, n, k, " ") + f" {n % 97}퍼센트 올랐다."
    return _words(ZH_WORDS, n, k, "") + f"上涨{n % 97}%。"


def synthetic_article(i: int, article_id: str) -> dict[str, Any]:
    """Article `i` of a generated run: several paragraphs, both languages, and every case the
    exporters treat differently, chosen by `i` so the run is the same on every machine."""
    langs = ("ko", "zh-Hans")
    paras = [[100 * i + 10 * p + s for s in range(1 + (i + p) % 3)] for p in range(1 + i % 4)]
    segments: list[dict[str, Any]] = []

    def add(part: str, para: int, sent: int, n: int) -> None:
        seg: dict[str, Any] = {"part": part, "para": para, "sent": sent, "en": _sentence("en", n)}
        for lang in langs:
            seg[lang] = _sentence(lang, n)
        seg["origin"] = {lang: "model" for lang in langs}
        segments.append(seg)

    add("title", 0, 0, 7 * i + 1)
    for p, sents in enumerate(paras):
        for s, n in enumerate(sents):
            add("body", p, s, n)
    add("summary", 0, 0, 7 * i + 2)
    if i % 4 == 1:  # a reviewer's translation in use
        segments[1]["origin"]["ko"] = "human"
        segments[0]["origin"]["zh-Hans"] = "human"
    if i % 6 == 2:  # a segment that failed to translate
        segments[-2]["zh-Hans"] = None
    if i % 5 == 3:  # text XML and Hugo and i18next each need escaped or kept verbatim
        segments[1]["en"] += ' <b>&</b> {{< ref "x" >}} {{name}} $t(key) "q" \\'
        segments[1]["ko"] = "수직\x0b탭 & <b> {{% note %}}" + segments[1]["ko"]
    qa: list[dict[str, Any]] = []
    if i % 3 == 0:
        qa.append({"segment": "body/p0s0", "language": "ko", "check": "number_mismatch",
                   "detail": f"numbers differ: source has {i} < {i + 1} & more"})
    if i % 7 == 2:
        qa.append({"segment": "title/p0s0", "language": "zh-Hans", "check": "wrong_script",
                   "detail": "target mixes scripts: \"能源\" & <Latin>"})
    if i % 5 == 4:
        qa.append({"segment": "summary", "language": "en", "check": "empty",
                   "detail": "the summariser returned no text"})
        qa.append({"segment": "summary", "language": None, "check": "repetition",
                   "detail": "said twice"})
    by_lang: dict[str, dict[str, list[str]]] = {lang: {} for lang in ("en", *langs)}
    for seg in segments:
        for lang in by_lang:
            text = seg[lang] if seg[lang] is not None else ""
            by_lang[lang].setdefault(f"{seg['part']}{seg['para']}", []).append(text)

    def joined(lang: str, part: str, count: int = 1) -> str:
        sep = " " if lang == "en" else ("" if lang == "zh-Hans" else " ")
        return "\n\n".join(sep.join(by_lang[lang][f"{part}{p}"]) for p in range(count))

    doc: dict[str, Any] = {
        "id": article_id,
        "source": {
            "lang": "en",
            "title": joined("en", "title"),
            "body": joined("en", "body", len(paras)),
            "file": f"input/{article_id}.md",
            "meta": {"date": f"2026-11-{1 + i % 28:02d}", "url": f"https://news.example/{i}"}
            if i % 2 == 0 else {"date": "yesterday"},
        },
        "summary": {lang: joined(lang, "summary") for lang in by_lang},
        "translations": {
            lang: {"title": joined(lang, "title"), "body": joined(lang, "body", len(paras))}
            for lang in langs
        },
        "segments": segments,
        "qa": qa,
        "input_sha256": f"{i:064x}",
        "config_hash": "abcdef1234567890",
        "summary_levels": 1,
    }
    if i % 8 == 5:  # an article with no Chinese version at all
        del doc["translations"]["zh-Hans"]
        del doc["summary"]["zh-Hans"]
        for seg in segments:
            del seg["zh-Hans"]
            del seg["origin"]["zh-Hans"]
    if i % 9 == 6:  # no summary in Korean
        del doc["summary"]["ko"]
    if i % 11 == 10:  # an article stored without its segments
        del doc["segments"]
    return doc


def synthetic_run(root: Path, ids: list[str]) -> Path:
    """A complete run folder with one generated article per id."""
    root.mkdir(parents=True)
    manifest = {"run_id": "20261201T000000000000Z-abcdef12", "status": "complete",
                "config_hash": "abcdef1234567890", "config": {"languages": ["ko", "zh-Hans"]}}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for i, article_id in enumerate(ids):
        save_article(root, synthetic_article(i, article_id))
    return root


def golden_ids(n: int) -> list[str]:
    return [*GOLDEN_IDS, *(f"news/{i:04d}" for i in range(n - len(GOLDEN_IDS)))]


def export_digest(run: Path, fmt: Any, to: Path) -> str:
    """One sha256 over every exported file (path and bytes) and what the report says."""
    report = export_run(run, fmt, to)
    files = sorted((rel, hashlib.sha256(data).hexdigest()) for rel, data in all_files(to).items())
    said = [report.files_written, report.articles, list(report.languages), report.skipped,
            report.warnings]
    return hashlib.sha256(json.dumps([files, said]).encode()).hexdigest()


# Recorded from the exporters that built whole documents in memory (before they streamed):
# streaming must not change a byte.
GOLDEN = {
    "hugo": "49af1ce9f5df47a9110ac4bb188c7aeccf09365fcf22f10f9f933549ad8e8fda",
    "i18next": "77926cbcb2a90d5232e930cce958ad7c3c93eb1468b3bb946c9a27f95f70a0f0",
    "xliff": "a601150044aee35b2e0e8c7c7f4c743b3bcad086d815f7ec2989a39dd4fc6018",
}


@pytest.mark.parametrize("fmt", sorted(GOLDEN))
def test_exports_write_the_same_bytes_as_before_they_streamed(tmp_path: Path, fmt: Any) -> None:
    run = synthetic_run(tmp_path / "run", golden_ids(24))
    assert export_digest(run, fmt, tmp_path / "out") == GOLDEN[fmt]


def _export_peak(run: Path, fmt: Any, to: Path) -> int:
    tracemalloc.start()
    try:
        export_run(run, fmt, to)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", sorted(GOLDEN))
def test_export_memory_does_not_grow_with_the_number_of_articles(
    tmp_path: Path, fmt: Any
) -> None:
    """Only an id per article (the folder listing) and the report's messages may grow: under
    400 bytes per article here, where the exporters that built whole documents kept 850 bytes
    (Hugo: pathlib's rglob remembers every path) to 17 KB (XLIFF: the tree) per article."""
    small = synthetic_run(tmp_path / "small", golden_ids(50))
    large = synthetic_run(tmp_path / "large", golden_ids(500))
    _export_peak(large, fmt, tmp_path / "warm")  # imports and caches are not the export's
    peaks = [_export_peak(run, fmt, tmp_path / f"{run.name}-out") for run in (small, large)]
    per_article = (peaks[1] - peaks[0]) / (500 - 50)
    assert per_article < 400, (
        f"peak traced memory {peaks[0]} B at 50 articles, {peaks[1]} B at 500 "
        f"({peaks[1] / peaks[0]:.1f}x, {per_article:.0f} B per article)"
    )


@pytest.mark.parametrize(("fmt", "module", "name"), [
    ("xliff", "summarize.export.xliff", "article_file"),
    ("i18next", "summarize.export.i18next", "entry_of"),
])
def test_a_failure_mid_stream_leaves_the_previous_export_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Any, module: str, name: str
) -> None:
    run = synthetic_run(tmp_path / "run", golden_ids(12))
    to = tmp_path / "out"
    export_run(run, fmt, to)
    before = all_files(to)
    real = getattr(importlib.import_module(module), name)
    calls = []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:
            raise ExportError("disk on fire")
        return real(*args)

    monkeypatch.setattr(f"{module}.{name}", failing)
    with pytest.raises(ExportError, match="disk on fire"):
        export_run(run, fmt, to)
    assert all_files(to) == before  # no half-written file, no temp file left behind
