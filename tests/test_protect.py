"""Masking markup and glossary terms, and putting them back whatever the model did to the placeholders."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize.text.glossary import load_glossary
from summarize.text.protect import Masked, markup_spans, protect, restore

GLOSSARY = load_glossary({
    "UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署"},
    "World Health Organization": {"ko": "세계보건기구", "zh-Hans": "世界卫生组织"},
    "Open Doors": "keep",
    "Reuters": {"ko": "로이터"},
})


@pytest.mark.parametrize(("text", "expected"), [
    ("Run `x.y()` now", [("`x.y()`", "code")]),
    ("Run ``a ` b`` now", [("``a ` b``", "code")]),
    ("See https://x.org/a?b=1#c.", [("https://x.org/a?b=1#c", "url")]),
    ("(see https://en.wikipedia.org/wiki/Foo_(bar)).", [("https://en.wikipedia.org/wiki/Foo_(bar)", "url")]),
    ("Visit www.who.int, then", [("www.who.int", "url")]),
    ("Write to press@unhcr.org.", [("press@unhcr.org", "email")]),
    ('A <a href="https://x.org">link</a><br/>', [('<a href="https://x.org">', "tag"), ("</a>", "tag"), ("<br/>", "tag")]),
    ("Hi {name} and {{ user }}, {0}", [("{name}", "placeholder"), ("{{ user }}", "placeholder"), ("{0}", "placeholder")]),
    ("Got %s and %d and %(count)s and %.2f", [("%s", "placeholder"), ("%d", "placeholder"), ("%(count)s", "placeholder"), ("%.2f", "placeholder")]),
    ("Cited twice [3] and [ 12 ].", [("[3]", "marker"), ("[ 12 ]", "marker")]),
    ("Read [the report](https://x.org/a).", [("[", "link_open"), ("](https://x.org/a)", "link_close")]),
    ('An ![image](a.png "title") here', [("![", "link_open"), ('](a.png "title")', "link_close")]),
    ("Read [`code` here](u)", [("[", "link_open"), ("`code`", "code"), ("](u)", "link_close")]),
])
def test_markup_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(text[s:e], kind) for s, e, kind in markup_spans(text)] == expected


@pytest.mark.parametrize("text", [
    "Prices rose 3.5% to $1.2 billion, or 1,234,567 units, in 2024.",  # numbers are not masked
    "He was 100% sure, 50%-ish, and said so.",
    "A < b and c > d, and [the] (bracketed) words.",
    "",
])
def test_nothing_to_protect_leaves_text_unchanged(text: str) -> None:
    masked = protect(text, GLOSSARY, "ko")
    assert masked.text == text
    assert masked.spans == ()
    assert restore("번역", masked).text == "번역"


def test_spans_get_placeholders_in_order_and_glossary_forms() -> None:
    masked = protect("The UNHCR and Open Doors told Reuters at <b>noon</b>.", GLOSSARY, "zh-Hans")
    assert masked.text == "The [0] and [1] told [2] at [3]noon[4]."
    assert [(s.source, s.replacement, s.kind) for s in masked.spans] == [
        ("UNHCR", "联合国难民署", "term"),
        ("Open Doors", "Open Doors", "term"),  # keep
        ("Reuters", "Reuters", "term"),  # no zh-Hans form: source form
        ("<b>", "<b>", "tag"),
        ("</b>", "</b>", "tag"),
    ]


def test_glossary_terms_are_not_matched_inside_markup() -> None:
    masked = protect("See https://unhcr.org/UNHCR and `UNHCR` but UNHCR.", GLOSSARY, "ko")
    assert [s.kind for s in masked.spans] == ["url", "code", "term"]


def test_link_text_stays_translatable() -> None:
    masked = protect("Read [the UNHCR report](https://x.org/a).", GLOSSARY, "ko")
    assert masked.text == "Read [0]the [1] report[2]."
    assert masked.spans[0].partner == 2 and masked.spans[2].partner == 0
    restored = restore("[0] [1] 보고서 [2]를 읽어보세요.", masked)
    assert restored.text == "[유엔난민기구 보고서](https://x.org/a)를 읽어보세요."
    assert restored.issues == ()


@pytest.mark.parametrize("variant", ["[0]", "[ 0 ]", "［０］", "【0】", "〔0〕", "(0)", "{0}", "《0》"])
def test_mangled_placeholders_are_recognised(variant: str) -> None:
    masked = protect("Go to https://x.org now.", None, "ko")
    restored = restore(f"지금 {variant}로 가세요.", masked)
    assert restored.text == "지금 https://x.org로 가세요."
    assert restored.issues == ()


def test_loose_variant_already_in_source_is_not_taken_for_a_placeholder() -> None:
    masked = protect("Step (0) uses `x`.", None, "ko")
    restored = restore("단계 (0)에서 사용한다.", masked)
    assert restored.text == "단계 (0)에서 사용한다 `x`."
    assert [i.kind for i in restored.issues] == ["lost"]


def test_placeholder_beyond_the_spans_is_left_alone() -> None:
    masked = protect("Use `x`.", None, "ko")
    assert restore("[0]와 [7]을 사용하라.", masked).text == "`x`와 [7]을 사용하라."


@pytest.mark.parametrize(("source", "lang", "output", "expected", "kinds"), [
    # lost: appended before the final punctuation, with a space (ko) or without (zh-Hans)
    ("Go to https://x.org now.", "ko", "지금 가세요.", "지금 가세요 https://x.org.", ["lost"]),
    ("Go to https://x.org now.", "zh-Hans", "现在就去。", "现在就去https://x.org。", ["lost"]),
    ("Go to https://x.org now", "ko", "지금 가세요", "지금 가세요 https://x.org", ["lost"]),
    # duplicated: the first one stays, the rest go with their spaces
    ("Go to https://x.org now.", "ko", "[0] 지금 [0] 가세요 [0].", "https://x.org 지금 가세요.", ["duplicated"]),
    # link halves: a lost close goes at the end, a lost open at the start
    ("Read [the report](https://x.org).", "ko", "[0]보고서를 읽으세요.", "[보고서를 읽으세요](https://x.org).", ["lost"]),
    ("Read [the report](https://x.org).", "ko", "보고서[1]를 읽으세요.", "[보고서](https://x.org)를 읽으세요.", ["lost"]),
    ("Read [the report](https://x.org).", "ko", "[1]보고서[0]를 읽으세요.", "[보고서](https://x.org)를 읽으세요.", ["repaired"]),
    ("Read [the report](https://x.org).", "ko", "보고서를 읽으세요.", "[보고서를 읽으세요](https://x.org).", ["lost", "lost"]),
    # glossary forms: Chinese has no model-added spaces around them, Korean particles agree
    ("The UNHCR said.", "zh-Hans", "[0] 表示。", "联合国难民署表示。", []),
    ("The World Health Organization said.", "ko", "[0]은 밝혔다.", "세계보건기구는 밝혔다.", []),
    ("The UNHCR said it.", "ko", "[0]이 그것을 말했다.", "유엔난민기구가 그것을 말했다.", []),
    ("The UNHCR met them.", "ko", "그들은 [0]과 만났다.", "그들은 유엔난민기구와 만났다.", []),
    ("The UNHCR said.", "ko", "[0]이다.", "유엔난민기구이다.", []),  # copula, not a particle
])
def test_restore_repairs_and_reports(
    source: str, lang: str, output: str, expected: str, kinds: list[str]
) -> None:
    restored = restore(output, protect(source, GLOSSARY, lang))
    assert restored.text == expected
    assert [i.kind for i in restored.issues] == kinds
    assert all(i.detail and i.span.placeholder in i.detail for i in restored.issues)


def test_restore_without_spans_returns_output() -> None:
    masked = Masked("plain", (), "plain")
    assert restore("[0] 그대로", masked).text == "[0] 그대로"


# ------------------------------------------------------------------ properties

ITEMS = [
    "`x.y()`", "``a`b``", "https://x.org/a_(b)?q=1", "www.example.com/p", "ann@example.org",
    "<b>", "</a>", "<br/>", '<a href="https://x.org">', '<img alt="Fig. 1. Why? x > y" src="m.png">',
    "<!-- a. B -->", "{name}", "{{ user }}", "{}", "%s", "%d",
    "%(count)s", "[3]", "［４］", "[the report](https://r.org/x)", "[ spaced ](u)", "[](e)",
    "UNHCR", "Open Doors", "3.5%", "$1.2",
]
FILLER = st.lists(
    st.sampled_from([*"abcXYZ019 .,;:!?'\"-_()[]{}<>%$@`/\n", "UN", "www.", "http://", "］", "【"]),
    max_size=12,
).map("".join)
KEEP_GLOSSARY = load_glossary({"UNHCR": "keep", "Open Doors": "keep", "UN": "keep"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.tuples(FILLER, st.sampled_from(ITEMS)), max_size=6),
    tail=FILLER,
    lang=st.sampled_from([None, "ko", "zh-Hans"]),
)
def test_identity_translation_round_trips(parts: list[tuple[str, str]], tail: str, lang: str | None) -> None:
    text = "".join(f + item for f, item in parts) + tail
    masked = protect(text, KEEP_GLOSSARY, lang)
    restored = restore(masked.text, masked)
    assert restored.text == text
    assert restored.issues == ()
    assert len(re.findall(r"\[\d+\]", masked.text)) >= len(masked.spans)


DISTINCT = ["`code_a()`", "https://example.org/p", "<b>", "{user}", "%(n)d", "x@y.org", "[the report](https://r.org/x)"]
MANGLE = ["[{}]", "[ {} ]", "［{}］", "【{}】", " [{}] "]
KOREAN = st.sampled_from(["정부는", "발표했다", "새로운", "조치를", "오늘", "보고서", "밝혔다."])


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 3), min_size=8, max_size=8),
    mangles=st.lists(st.sampled_from(MANGLE), min_size=24, max_size=24),
    words=st.lists(KOREAN, min_size=24, max_size=24),
    order=st.randoms(use_true_random=False),
    lang=st.sampled_from(["ko", "zh-Hans"]),
)
def test_every_span_ends_up_exactly_once_and_changes_are_reported(
    counts: list[int], mangles: list[str], words: list[str], order, lang: str
) -> None:
    source = "Before " + " and ".join(DISTINCT) + " after."
    masked = protect(source, None, lang)
    assert len(masked.spans) == 8  # the link is two spans
    tokens = [i for i, c in enumerate(counts) for _ in range(c)]
    order.shuffle(tokens)
    output = " ".join(w + mangles[k].format(i) for k, (w, i) in enumerate(zip(words, tokens, strict=False)))
    restored = restore(output, masked)

    for item in DISTINCT[:-1]:
        assert restored.text.count(item) == 1, item
    assert restored.text.count("](https://r.org/x)") == 1
    assert restored.text.count("[") == 1
    assert restored.text.index("[") < restored.text.index("](https://r.org/x)")

    reported = {(i.kind, i.span.placeholder) for i in restored.issues}
    expected = {("lost", f"[{i}]") for i, c in enumerate(counts) if c == 0}
    expected |= {("duplicated", f"[{i}]") for i, c in enumerate(counts) if c > 1}
    open_at, close_at = (tokens.index(k) if k in tokens else None for k in (6, 7))
    if open_at is not None and close_at is not None and close_at < open_at:
        expected.add(("repaired", "[6]"))
    assert reported == expected
