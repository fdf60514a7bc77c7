"""Tests for summarize.read: every input format, every bad-record reason, ids and the examples.

examples/broken/ holds, on purpose:
  ferry-timetable.txt   good article
  feed.jsonl            line 1 good ("feed-ok"), 2 malformed JSON, 3 duplicate of "feed-ok",
                        4 no body, 5 a JSON array
  table.csv             row at line 2 good ("table-ok", body spans lines 2-4), line 5 empty title
  bad-front-matter.md   YAML syntax error
  blank.md              whitespace only
  cafe-reopens.txt      Latin-1 bytes, not UTF-8
  empty.txt             zero bytes
  headline-only.md      a `# heading` and nothing else
  press-release.rtf     unsupported suffix
  scanned-page.txt      PNG bytes behind a .txt name
"""

from __future__ import annotations

import builtins
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarize.errors import InputError
from summarize.read import (
    MAX_ID_COMPONENT,
    MAX_RECORD_BYTES,
    iter_articles,
    sanitize_id,
    split_paragraphs,
)
from summarize.records import Article, BadRecord

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def read_all(path: Path) -> list[Article | BadRecord]:
    return list(iter_articles(path))


def only_article(path: Path) -> Article:
    items = read_all(path)
    assert len(items) == 1 and isinstance(items[0], Article), items
    return items[0]


def only_bad(path: Path) -> BadRecord:
    items = read_all(path)
    assert len(items) == 1 and isinstance(items[0], BadRecord), items
    return items[0]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def summary(items: list[Article | BadRecord]) -> list[tuple[str, ...]]:
    """Articles as ("ok", id) and bad records as ("bad", source, line, reason) for compact asserts."""
    out: list[tuple[str, ...]] = []
    for item in items:
        if isinstance(item, Article):
            out.append(("ok", item.id))
        else:
            out.append(("bad", item.source, str(item.line), item.reason))
    return out


# ---------------------------------------------------------------- .txt


def test_txt_title_and_paragraphs_with_crlf_bom_and_trailing_space(tmp_path: Path) -> None:
    raw = "\ufeff\r\n  Storm Closes Schools  \r\n\r\nFirst line of para one,\r\n  second line.   \r\n \t \r\nPara   two.\r\n\r\n\r\n"
    article = only_article(write(tmp_path / "storm.txt", raw))
    assert article.title == "Storm Closes Schools"
    assert article.paragraphs == ("First line of para one, second line.", "Para two.")
    assert article.body == "First line of para one, second line.\n\nPara two."
    assert (article.id, article.source, article.line, article.meta) == (
        "storm",
        "storm.txt",
        None,
        {},
    )


def test_txt_title_line_directly_followed_by_text(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "a.txt", "Title\nBody starts here.\nand goes on.\n"))
    assert article.title == "Title"
    assert article.paragraphs == ("Body starts here. and goes on.",)


def test_txt_utf16_with_bom_is_read(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "u.txt", "Café Title\n\nNaïve body.".encode("utf-16")))
    assert (article.title, article.paragraphs) == ("Café Title", ("Naïve body.",))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\r\n \n", "file contains only whitespace"),
        (b"\xef\xbb\xbf \n", "file contains only whitespace"),
        (b"Only a title\n\n   \n", "no body text"),
        (b"Title\n\nBody with a \x00 NUL byte", "file is binary"),
        (bytes(range(1, 32)) * 20, "file is binary"),
        (b"Caf\xe9 title\n\nBody", "not valid UTF-8 text (byte 0xe9 at offset 3)"),
        (b"\xef\xbb\xbfAb\xff\n\nBody", "not valid UTF-8 text (byte 0xff at offset 5)"),
    ],
)
def test_txt_bad_files(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = only_bad(write(tmp_path / "x.txt", content))
    assert (bad.source, bad.reason, bad.line) == ("x.txt", reason, None)


# ---------------------------------------------------------------- .md


FRONT_MATTER_MD = """\
---
title: Port Strike Ends
date: 2026-11-02
updated: 2026-11-02T08:30:00
url: https://example.org/port
tags: [ports, labour]
---

# Port Strike Ends

Workers at the port voted to accept a *new* offer, see [the deal](https://example.org/deal).

Run `make report` or write to press@example.org
for the   full text.
"""


def test_markdown_front_matter_meta_and_repeated_heading(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "news" / "port.md", FRONT_MATTER_MD))
    assert article.title == "Port Strike Ends"
    assert article.paragraphs == (
        "Workers at the port voted to accept a *new* offer, see [the deal](https://example.org/deal).",
        "Run `make report` or write to press@example.org for the full text.",
    )
    assert article.meta == {
        "date": "2026-11-02",
        "updated": "2026-11-02T08:30:00",
        "url": "https://example.org/port",
        "tags": ["ports", "labour"],
    }
    json.dumps(article.meta)  # must be serialisable as is
    assert (article.id, article.source) == ("port", "port.md")


def test_markdown_heading_is_title_without_front_matter(tmp_path: Path) -> None:
    text = "\n# Comet Seen Early #\n\nFirst paragraph.\n\n## Sub heading\nText right under it.\n"
    article = only_article(write(tmp_path / "c.markdown", text))
    assert article.title == "Comet Seen Early"
    assert article.paragraphs == ("First paragraph.", "## Sub heading", "Text right under it.")


def test_markdown_setext_heading_is_title(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "s.md", "Big News\n========\n\nBody.\n"))
    assert (article.title, article.paragraphs) == ("Big News", ("Body.",))


def test_markdown_heading_different_from_front_matter_title_stays(tmp_path: Path) -> None:
    text = "---\ntitle: Official Title\n---\n# Another Heading\n\nBody.\n"
    article = only_article(write(tmp_path / "d.md", text))
    assert article.title == "Official Title"
    assert article.paragraphs == ("# Another Heading", "Body.")


def test_markdown_lists_breaks_and_numbers(tmp_path: Path) -> None:
    text = (
        "# T\n\nIntro line\n- first item\n  continues here\n- second item\n\n"
        "1. one\n2. two\n\n***\n\nPrices fell in\n2024. Then they rose.\n"
    )
    article = only_article(write(tmp_path / "l.md", text))
    assert article.paragraphs == (
        "Intro line",
        "- first item continues here",
        "- second item",
        "1. one",
        "2. two",
        "Prices fell in 2024. Then they rose.",
    )


def test_markdown_front_matter_id_and_empty_front_matter(tmp_path: Path) -> None:
    with_id = write(tmp_path / "a" / "x.md", "---\nid: Custom Id\ntitle: T\n---\nBody.\n")
    empty_fm = write(tmp_path / "b" / "y.md", "---\n---\n# Heading\n\nBody.\n")
    assert (only_article(with_id).id, only_article(with_id).meta) == ("Custom-Id", {})
    assert only_article(empty_fm).title == "Heading"


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        (
            "---\ntitle: A: b: c\n---\nBody\n",
            "malformed front matter: mapping values are not allowed here",
            2,
        ),
        (
            "---\ntitle: T\n\nBody without a closing line\n",
            "front matter is not closed (no closing '---' line)",
            1,
        ),
        ("---\n- a list\n---\nBody\n", "front matter is not a mapping (got list)", 1),
        ("---\ntitle: [a, b]\n---\nBody\n", "front matter title is not text", None),
        (
            "Just text, no heading.\n\nMore.\n",
            "no title (no front-matter title and no leading '# heading')",
            None,
        ),
        ("---\ntitle: Only Title\n---\n", "no body text", None),
        ("# Only a heading\n", "no body text", None),
    ],
)
def test_markdown_bad(tmp_path: Path, text: str, reason: str, line: int | None) -> None:
    bad = only_bad(write(tmp_path / "m.md", text))
    assert (bad.reason, bad.line) == (reason, line)


# ---------------------------------------------------------------- .html


PAGE = """<!doctype html>
<html><head>
<title>Bridge Opens | Daily Example</title>
<meta property="og:url" content="https://example.org/bridge">
<meta property="article:published_time" content="2026-05-01T10:00:00Z">
<meta property="article:tag" content="transport"><meta property="article:tag" content="city">
<script>var x = "<p>not text</p>";</script><style>p { color: red }</style>
</head><body>
<header class="masthead"><a href="/">Daily Example</a><nav><ul><li>Home</li><li>World</li></ul></nav></header>
<div class="cookie-notice"><p>We use cookies.</p></div>
<main class="layout with-ads">
<article>
  <header><h1>Bridge  Opens &amp; Traffic Eases</h1><p class="byline">By A. Writer</p></header>
  <div class="ad-container"><p>Advertisement</p></div>
  <p>The new bridge opened at 9&nbsp;a.m. on Monday, the city&rsquo;s mayor said.</p>
  <div class="shareBar"><p>Share on social media</p></div>
  <p>Line one<br>line two <em>emphasised</em>
     and   wrapped.</p>
  <h2>What changes</h2>
  <ul><li>Buses every 10 minutes</li><li><p>Bike lanes on both sides</p></li></ul>
  <p hidden>Hidden text</p><p style="display: none">Also hidden</p>
  <aside><p>Related: other bridges</p></aside>
  <div id="newsletter-box"><p>Sign up!</p></div>
  <form><p>Search</p></form>
  <figure><img src="b.jpg"><figcaption>Photo caption</figcaption></figure>
  <p>   </p>
  <footer><p>Tags: bridge</p></footer>
</article>
<div class="related-stories"><article><h3>Other news</h3><p>Other story text.</p></article></div>
</main>
<footer><p>Copyright 2026</p></footer>
<script>track()</script>
</body></html>
"""


def test_html_article_extraction(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "bridge.html", PAGE))
    assert article.title == "Bridge Opens & Traffic Eases"
    assert article.paragraphs == (
        "The new bridge opened at 9 a.m. on Monday, the city\u2019s mayor said.",
        "Line one line two emphasised and wrapped.",
        "What changes",
        "Buses every 10 minutes",
        "Bike lanes on both sides",
    )
    assert article.meta == {
        "author": "A Writer",
        "date": "2026-05-01",
        "url": "https://example.org/bridge",
        "sitename": "example.org",  # no og:site_name: trafilatura names the host
        "tags": ["transport", "city"],
    }
    assert article.id == "bridge"


# Text in a <div> broken by <br><br>, an author bio inside the article and a "more stories"
# block after it: the hand-written reader lost the div and kept the bio.
TUNNEL = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Harbour Tunnel Delayed Again | Coast Herald</title>
<meta property="og:site_name" content="Coast Herald">
<meta name="author" content="Jane Doe">
<meta name="description" content="The tunnel under the harbour will open a year late.">
<link rel="canonical" href="https://herald.example/tunnel">
<meta property="article:published_time" content="2026-04-03T07:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Harbour Tunnel Delayed Again</h1>
<div class="body">
<div>The tunnel under the harbour will open a year later than planned, the regional transport
authority said on Thursday, blaming flooding in the eastern shaft.<br><br>Engineers found water
seeping through a seam in the concrete lining in February<br>and have spent two months sealing it,
according to a report presented to the authority's board.</div>
<p>The project, first approved in 2019, was meant to carry 40,000 vehicles a day and take heavy
lorries off the coastal road, where residents have complained about noise and fumes for decades.</p>
<p>"We would rather open late than open something we are not sure of," the authority's chair told
reporters after the meeting, adding that the budget would rise by about 8 percent.</p>
<table><tr><th>Stage</th><th>Planned</th><th>Now</th></tr>
<tr><td>Eastern shaft</td><td>2026</td><td>2027</td></tr></table>
</div>
<div class="author-bio"><img src="jane.jpg"><p>Jane Doe covers transport and infrastructure for the
Coast Herald. She previously reported from the capital for ten years.</p></div>
</article>
<section class="more-stories"><h2>More stories</h2>
<ul><li><a href="/a">Ferry fares to rise in June</a></li>
<li><a href="/b">New bus lanes open on the ring road</a></li>
<li><a href="/c">Airport expansion vote postponed</a></li></ul></section>
<footer><p>&copy; 2026 Coast Herald</p></footer>
</body></html>
"""


def test_html_br_paragraphs_bio_and_more_stories(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "tunnel.html", TUNNEL))
    assert article.title == "Harbour Tunnel Delayed Again"
    assert article.paragraphs == (
        "The tunnel under the harbour will open a year later than planned, the regional"
        " transport authority said on Thursday, blaming flooding in the eastern shaft.",
        "Engineers found water seeping through a seam in the concrete lining in February and"
        " have spent two months sealing it, according to a report presented to the"
        " authority's board.",
        "The project, first approved in 2019, was meant to carry 40,000 vehicles a day and take"
        " heavy lorries off the coastal road, where residents have complained about noise and"
        " fumes for decades.",
        '"We would rather open late than open something we are not sure of," the authority\'s'
        " chair told reporters after the meeting, adding that the budget would rise by about 8"
        " percent.",
        "Stage | Planned | Now",
        "Eastern shaft | 2026 | 2027",
    )
    assert article.meta == {
        "author": "Jane Doe",
        "date": "2026-04-03",
        "url": "https://herald.example/tunnel",
        "sitename": "Coast Herald",
        "description": "The tunnel under the harbour will open a year late.",
    }


def test_html_extractor_failure_is_one_bad_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trafilatura

    real = trafilatura.bare_extraction

    def flaky(page: object, **kwargs: object) -> object:
        text = page if isinstance(page, str) else page.text_content()  # type: ignore[attr-defined]
        if "Broken" in text:
            raise IndexError("list index out of range")
        return real(page, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", flaky)
    write(tmp_path / "a.html", PAGE.replace("Bridge  Opens", "Broken"))
    write(tmp_path / "b.html", PAGE)
    assert summary(read_all(tmp_path)) == [
        ("bad", "a.html", "None", "HTML extraction failed (IndexError: list index out of range)"),
        ("ok", "b"),
    ]


def test_html_title_fallbacks_and_canonical_and_time(tmp_path: Path) -> None:
    og = """<html><head><meta property="og:title" content="OG Title"><title>Tab</title>
    <link rel="canonical" href="https://example.org/c"></head>
    <body><article><time datetime="2026-01-02">Jan. 2</time><p>Text.</p></article></body></html>"""
    plain = "<html><head><title>Tab Title</title></head><body><p>Only text.</p></body></html>"
    a = only_article(write(tmp_path / "og.htm", og))
    b = only_article(write(tmp_path / "plain.html", plain))
    assert (a.title, a.paragraphs) == ("OG Title", ("Text.",))
    assert a.meta == {
        "url": "https://example.org/c",
        "date": "2026-01-02",
        "sitename": "example.org",
    }
    assert (b.title, b.paragraphs) == ("Tab Title", ("Only text.",))


def test_html_declared_legacy_charset(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><h1>Caf\xe9</h1><p>Cr\xe8me \x93br\xfbl\xe9e\x94.</p></body></html>'
    article = only_article(write(tmp_path / "w.html", page.encode("latin-1")))
    assert (article.title, article.paragraphs) == ("Café", ("Crème \u201cbrûlée\u201d.",))


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("<html><body><h1>Headline</h1><nav><p>menu</p></nav></body></html>", "no body text"),
        ("<html><body><p>Text but no title anywhere.</p></body></html>", "no title"),
        ("<!-- only a comment -->", "no body text"),
        (b"<p>caf\xe9</p>", "not valid UTF-8 text (byte 0xe9 at offset 6)"),
    ],
)
def test_html_bad(tmp_path: Path, page: str | bytes, reason: str) -> None:
    assert only_bad(write(tmp_path / "p.html", page)).reason.startswith(reason)


# ---------------------------------------------------------------- .jsonl


def test_jsonl_records_ids_meta_and_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "one",
                "title": "First",
                "body": "P1.\r\n\r\nP2 line\r\nwrapped.",
                "url": "u",
                "n": 3,
            }
        ),
        "",
        json.dumps({"title": "Second", "text": "Only para.", "tags": ["a"]}),
        "   ",
        json.dumps({"id": 7, "title": " Third ", "body": "Body."}),
    ]
    items = read_all(write(tmp_path / "feeds" / "daily.jsonl", "\n".join(lines) + "\n"))
    assert all(isinstance(i, Article) for i in items)
    first, second, third = items
    assert (first.id, first.line, first.paragraphs) == ("one", 1, ("P1.", "P2 line wrapped."))
    assert first.meta == {"url": "u", "n": 3}
    assert (second.id, second.line, second.meta) == ("daily/3", 3, {"tags": ["a"]})
    assert (third.id, third.line, third.title) == ("7", 5, "Third")
    assert {a.source for a in items} == {"daily.jsonl"}


def test_jsonl_derived_id_uses_relative_path(tmp_path: Path) -> None:
    write(tmp_path / "feeds" / "daily.jsonl", json.dumps({"title": "T", "body": "B"}) + "\n")
    (article,) = read_all(tmp_path)
    assert (article.id, article.source) == ("feeds/daily/1", "feeds/daily.jsonl")


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    lines = [
        '{"id": "a", "title": "T" "body": "B"}',
        "[1, 2]",
        "42",
        "null",
        json.dumps({"id": "b", "body": "B"}),
        json.dumps({"id": "c", "title": "T", "body": "  \n\n "}),
        json.dumps({"id": "d", "title": ["T"], "body": "B"}),
        json.dumps({"id": True, "title": "T", "body": "B"}),
        json.dumps({"id": "e", "title": "T", "body": ["p1", "p2"]}),
        json.dumps({"id": "ok", "title": "T", "body": "B"}),
    ]
    items = read_all(write(tmp_path / "f.jsonl", "\n".join(lines)))
    assert summary(items) == [
        ("bad", "f.jsonl", "1", "malformed JSON: Expecting ',' delimiter (column 26)"),
        ("bad", "f.jsonl", "2", "JSON line is an array, not an object"),
        ("bad", "f.jsonl", "3", "JSON line is a number, not an object"),
        ("bad", "f.jsonl", "4", "JSON line is null, not an object"),
        ("bad", "f.jsonl", "5", "no title"),
        ("bad", "f.jsonl", "6", "no body text"),
        ("bad", "f.jsonl", "7", "title is not a string (got list)"),
        ("bad", "f.jsonl", "8", "id is not a string or number (got bool)"),
        ("bad", "f.jsonl", "9", "body is not a string (got list)"),
        ("ok", "ok"),
    ]
    assert [i.id for i in items[4:7]] == ["b", "c", "d"]  # bad records name their id when known


# ---------------------------------------------------------------- .csv


def test_csv_records_lines_and_meta(tmp_path: Path) -> None:
    text = (
        "ID, Title ,Body,Date,Author\r\n"
        'x1,First,"Para one\r\nwrapped.\r\n\r\nPara two.",2026-01-01,\r\n'
        "\r\n"
        ",Second,Single para,,Ann\r\n"
    )
    first, second = read_all(write(tmp_path / "t.csv", text))
    assert isinstance(first, Article) and isinstance(second, Article)
    assert (first.id, first.line, first.title) == ("x1", 2, "First")
    assert first.paragraphs == ("Para one wrapped.", "Para two.")
    assert first.meta == {"date": "2026-01-01"}  # empty cells are not metadata
    assert (second.id, second.line, second.meta) == ("t/7", 7, {"author": "Ann"})


def test_csv_text_column_and_bad_rows(tmp_path: Path) -> None:
    text = (
        "id,title,text\n"
        'a,"Multi\nline title",ok\n'
        "b,,no title here\n"
        "c,Title only,\n"
        "d,Too,many,fields\n"
        "e,Too few\n"
        "f,Fine,Text.\n"
    )
    assert summary(read_all(write(tmp_path / "r.csv", text))) == [
        ("ok", "a"),
        ("bad", "r.csv", "4", "no title"),
        ("bad", "r.csv", "5", "no body text"),
        ("bad", "r.csv", "6", "row has 4 fields but the header has 3"),
        ("bad", "r.csv", "7", "row has 2 fields but the header has 3"),
        ("ok", "f"),
    ]


@pytest.mark.parametrize(
    "text",
    ["id,headline,body\n1,T,B\n", "id,title\n1,T\n"],
)
def test_csv_header_without_required_columns(tmp_path: Path, text: str) -> None:
    bad = only_bad(write(tmp_path / "h.csv", text))
    assert (bad.reason, bad.line) == (
        "CSV header needs a 'title' and a 'body' (or 'text') column",
        1,
    )


def test_csv_long_body_is_read_and_a_row_over_the_limit_is_one_bad_record(tmp_path: Path) -> None:
    # Python's csv stops at 131,072 characters a field; the reader raises that to its own
    # MAX_RECORD_BYTES, and a row over that costs only itself.
    long_body = "Word " * 30_000  # 150,000 characters
    huge_body = "x" * (MAX_RECORD_BYTES + 10)
    text = (
        "id,title,body\n"
        "a,First,Short body.\n"
        f'long,Long,"{long_body}"\n'
        "b,Second,Another body.\n"
        f'huge,Huge,"{huge_body}\n\nsecond paragraph"\n'
        'c,Third,"Last ""quoted"" body."\n'
    )
    items = read_all(write(tmp_path / "big.csv", text))
    assert summary(items) == [
        ("ok", "a"),
        ("ok", "long"),
        ("ok", "b"),
        ("bad", "big.csv", "5", "row is longer than the 16 MiB limit (lines 5-7)"),
        ("ok", "c"),
    ]
    assert isinstance(items[1], Article) and len(items[1].body) == len(long_body.strip())
    assert isinstance(items[4], Article) and items[4].paragraphs == ('Last "quoted" body.',)


def test_jsonl_line_over_the_limit_is_one_bad_record(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "T", "body": "B"}),
        json.dumps({"id": "huge", "title": "T", "body": "x" * MAX_RECORD_BYTES}),
        json.dumps({"id": "b", "title": "T", "body": "B"}),
    ]
    assert summary(read_all(write(tmp_path / "f.jsonl", "\n".join(lines)))) == [
        ("ok", "a"),
        ("bad", "f.jsonl", "2", "line is longer than the 16 MiB limit"),
        ("ok", "b"),
    ]


def test_invalid_utf8_costs_only_its_record(tmp_path: Path) -> None:
    good = json.dumps({"title": "T", "body": "B" * 100}).encode()
    filler = [good] * 1000  # a NUL in the first 64 KiB makes the whole file binary, as before
    jsonl = b"\n".join([good, b'{"title": "Caf\xe9", "body": "B"}', good, *filler, b"\x00{}", good])
    items = read_all(write(tmp_path / "f.jsonl", jsonl))
    assert len(jsonl) > 64 * 1024 and len(items) == 1005
    assert summary(items[:3]) == [
        ("ok", "f/1"),
        ("bad", "f.jsonl", "2", "not valid UTF-8 text (byte 0xe9 at offset 14 of line 2)"),
        ("ok", "f/3"),
    ]
    assert summary(items[-2:]) == [
        ("bad", "f.jsonl", "1004", "line 1004 contains a NUL byte (binary data)"),
        ("ok", "f/1005"),
    ]
    csv_bytes = (
        b"id,title,body\r\n"
        b"a,T,B\r\n"
        b'b,T,"first line\r\nsecond \xff line"\r\n'  # the bad byte is on line 4 of row 3
        b"c,T,B\r\n"
    )
    assert summary(read_all(write(tmp_path / "g.csv", csv_bytes))) == [
        ("ok", "a"),
        ("bad", "g.csv", "3", "not valid UTF-8 text (byte 0xff at offset 7 of line 4)"),
        ("ok", "c"),
    ]


def test_utf16_and_carriage_return_line_files(tmp_path: Path) -> None:
    csv_text = 'id,title,body\r\nk1,Café,"Naïve\r\n\r\nbody."\r\n,Zweiter,Text\r\n'
    write(tmp_path / "u.csv", csv_text.encode("utf-16"))
    jsonl = "\r".join(json.dumps({"title": t, "body": "B"}) for t in ("一", "二"))
    write(tmp_path / "v.jsonl", jsonl.encode("utf-16"))
    write(tmp_path / "w.jsonl", ("\r\n\r" + jsonl).encode())  # lone CRs end lines too
    items = read_all(tmp_path)
    assert summary(items) == [
        ("ok", "k1"),
        ("ok", "u/5"),
        ("ok", "v/1"),
        ("ok", "v/2"),
        ("ok", "w/3"),
        ("ok", "w/4"),
    ]
    assert isinstance(items[0], Article) and items[0].paragraphs == ("Naïve", "body.")
    assert isinstance(items[3], Article) and items[3].title == "二"


def test_bad_utf16_costs_its_record_or_the_cut_end(tmp_path: Path) -> None:
    good = json.dumps({"title": "T", "body": "B"}) + "\n"
    lone = json.dumps({"title": "\ud800", "body": "B"}, ensure_ascii=False) + "\n"
    data = (good + lone + good).encode("utf-16-le", "surrogatepass")
    write(tmp_path / "u.jsonl", b"\xff\xfe" + data + b"\x00")  # ends in half a character
    assert summary(read_all(tmp_path / "u.jsonl")) == [
        ("ok", "u/1"),
        ("bad", "u.jsonl", "2", "not valid UTF-16 text (unpaired surrogate in line 2)"),
        ("ok", "u/3"),
        (
            "bad",
            "u.jsonl",
            "4",
            "not valid UTF-16 text (truncated data); the rest of the file is not read",
        ),
    ]


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("world/floods", "world/floods"),
        ("../../etc/passwd", "etc/passwd"),
        ("/etc/passwd", "etc/passwd"),
        ("C:\\Users\\me\\a.txt", "C/Users/me/a-txt"),
        ("a/./b//c/", "a/b/c"),
        ("..", ""),
        ("  ", ""),
        ("新闻", ""),
        ("新闻-2026", "2026"),
        ("Café Noël", "Cafe-Noel"),
        ("report.final.v2", "report-final-v2"),
        ("a -- b", "a-b"),
        ("-lead_dash-", "lead_dash"),
        ("x" * 200 + "/y", "x" * MAX_ID_COMPONENT + "/y"),
        ("a%2F..%2Fb", "a-2F-2Fb"),
    ],
)
def test_sanitize_id(raw: str, clean: str) -> None:
    assert sanitize_id(raw) == clean


@given(st.text(max_size=80))
def test_sanitized_ids_stay_inside_the_output_folder(raw: str) -> None:
    clean = sanitize_id(raw)
    assert clean == "" or re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", clean)
    base = Path("/out/articles")
    assert (base / f"{clean}.json").resolve().is_relative_to(base)


def test_unsafe_ids_from_records(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "../../escape", "title": "T", "body": "B"}),
        json.dumps({"id": "日本", "title": "T", "body": "B"}),
    ]
    items = read_all(write(tmp_path / "u.jsonl", "\n".join(lines)))
    assert summary(items) == [
        ("ok", "escape"),
        ("bad", "u.jsonl", "2", "id '日本' is empty after removing unsafe characters"),
    ]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    write(
        tmp_path / "a.jsonl",
        "\n".join(json.dumps({"id": i, "title": "T", "body": "B"}) for i in ("x", "y")),
    )
    write(tmp_path / "b" / "story.txt", "T\n\nB")
    write(tmp_path / "c.jsonl", "\n\n" + json.dumps({"id": "X", "title": "T", "body": "B"}))
    write(tmp_path / "d.jsonl", json.dumps({"id": "b/story", "title": "T", "body": "B"}))
    write(tmp_path / "e.md", "---\nid: y\ntitle: T\n---\nB\n")
    items = read_all(tmp_path)
    assert summary(items) == [
        ("ok", "x"),
        ("ok", "y"),
        ("ok", "b/story"),
        ("bad", "c.jsonl", "3", "duplicate id 'X' (first seen in a.jsonl:1)"),
        ("bad", "d.jsonl", "1", "duplicate id 'b/story' (first seen in b/story.txt)"),
        ("bad", "e.md", "None", "duplicate id 'y' (first seen in a.jsonl:2)"),
    ]


# ---------------------------------------------------------------- folders


def test_folder_order_hidden_unsupported_and_ids(tmp_path: Path) -> None:
    for rel in ("b.txt", "a/z.txt", "a.txt", "a/b/c.md", ".hidden.txt", ".git/x.txt", "Z.txt"):
        write(tmp_path / rel, "# Title\n\nBody.")
    write(tmp_path / "a" / "notes.docx", b"PK\x03\x04")
    write(tmp_path / "Makefile", "all:\n")
    expected = [  # code-point order of names, so upper case sorts first
        ("bad", "Makefile", "None", "unsupported file type (no suffix)"),
        ("ok", "Z"),
        ("ok", "a/b/c"),
        ("bad", "a/notes.docx", "None", "unsupported file type .docx"),
        ("ok", "a/z"),
        ("ok", "a"),
        ("ok", "b"),
    ]
    assert summary(read_all(tmp_path)) == expected
    assert summary(read_all(tmp_path)) == expected  # same again


def test_suffix_is_case_insensitive_and_single_file_id_is_stem(tmp_path: Path) -> None:
    article = only_article(write(tmp_path / "deep" / "My Story.TXT", "T\n\nB"))
    assert (article.id, article.source) == ("My-Story", "My Story.TXT")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "in" / "a.txt", "T\n\nB")
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in", target_is_directory=True)
    assert summary(read_all(tmp_path / "in")) == [("ok", "a")]


def test_unreadable_file_is_a_bad_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "locked.txt", "T\n\nB")
    write(tmp_path / "open.txt", "T\n\nB")
    real = builtins.open

    def guarded(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(os.fsdecode(file)).name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    assert summary(read_all(tmp_path)) == [
        ("bad", "locked.txt", "None", "cannot read file: Permission denied"),
        ("ok", "open"),
    ]


def test_missing_input_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        iter_articles(tmp_path / "nope")  # raised on the call, before iteration


def test_empty_folder_yields_nothing(tmp_path: Path) -> None:
    assert read_all(tmp_path) == []


def test_split_paragraphs() -> None:
    assert split_paragraphs("a\r\nb\r\n \r\n\r\nc\u200b  d\n\n\n") == ["a b", "c d"]


# ---------------------------------------------------------------- examples


def test_example_articles_all_parse() -> None:
    items = read_all(EXAMPLES / "articles")
    assert all(isinstance(i, Article) for i in items), [
        i for i in items if isinstance(i, BadRecord)
    ]
    articles = {a.id: a for a in items if isinstance(a, Article)}
    assert list(articles) == [
        "briefs/rail-strike-talks",
        "briefs/2",
        "health/cooling-clinics",
        "local/bike-lanes",
        "local/council-briefs/11",
        "science/night-sky",
        "tech/battery-recycling",
        "world/delta-floods",
    ]
    for article in articles.values():
        assert article.title and len(article.paragraphs) >= 3
        assert all(p == p.strip() and "\n" not in p and "  " not in p for p in article.paragraphs)
        json.dumps(article.meta)
    words = {i: len(a.body.split()) for i, a in articles.items()}
    assert 900 <= words["world/delta-floods"] <= 1200
    assert 2500 <= sum(words.values()) <= 5000
    clinics = articles["health/cooling-clinics"]
    assert clinics.meta["date"] == "2026-07-14" and clinics.meta["url"].startswith("https://")
    assert "`heat_score`" in clinics.body and "](https://" in clinics.body
    html = articles["tech/battery-recycling"]
    assert not any(
        w in html.body for w in ("cookies", "Advertisement", "Sponsored", "Share this", "Sign up")
    )


def test_example_broken_folder() -> None:
    assert summary(read_all(EXAMPLES / "broken")) == [
        (
            "bad",
            "bad-front-matter.md",
            "3",
            "malformed front matter: expected ',' or ']', but got '<stream end>'",
        ),
        ("bad", "blank.md", "None", "file contains only whitespace"),
        ("bad", "cafe-reopens.txt", "None", "not valid UTF-8 text (byte 0xe9 at offset 3)"),
        ("bad", "empty.txt", "None", "empty file"),
        ("ok", "feed-ok"),
        ("bad", "feed.jsonl", "2", "malformed JSON: Expecting ',' delimiter (column 48)"),
        ("bad", "feed.jsonl", "3", "duplicate id 'feed-ok' (first seen in feed.jsonl:1)"),
        ("bad", "feed.jsonl", "4", "no body text"),
        ("bad", "feed.jsonl", "5", "JSON line is an array, not an object"),
        ("ok", "ferry-timetable"),
        ("bad", "headline-only.md", "None", "no body text"),
        ("bad", "press-release.rtf", "None", "unsupported file type .rtf"),
        ("bad", "scanned-page.txt", "None", "file is binary"),
        ("ok", "table-ok"),
        ("bad", "table.csv", "5", "no title"),
    ]
