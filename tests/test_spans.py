"""One definition of protected text: the splitter never cuts inside it, the masker returns it intact."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize.text.glossary import load_glossary
from summarize.text.protect import protect, restore
from summarize.text.segment import one_paragraph, split_long
from summarize.text.sentences import split_sentences
from summarize.text.spans import protected_spans, unbreakable

GLOSSARY = load_glossary({"Acme Inc. Board": "keep", "Yahoo! News": "keep"})


def found(text: str, glossary=None) -> list[tuple[str, str]]:
    return [(text[s:e], kind) for s, e, kind in protected_spans(text, glossary)]


@pytest.mark.parametrize(("text", "expected"), [
    ('See <img alt="Fig. 1. The flooded area" src="m.png"> now.',
     [('<img alt="Fig. 1. The flooded area" src="m.png">', "tag")]),
    ('A <a title="x > y? Yes." href=\'/a.b\'>link</a>.',
     [('<a title="x > y? Yes." href=\'/a.b\'>', "tag"), ("</a>", "tag")]),
    ("Rain. <!-- Note. Keep? --> Sun.", [("<!-- Note. Keep? -->", "tag")]),
    ("Use `<b>` and `a. B`.", [("`<b>`", "code"), ("`a. B`", "code")]),
    ("Go to HTTPS://X.org/a.b. Then ftp://f.org/x.", [("HTTPS://X.org/a.b", "url"), ("ftp://f.org/x", "url")]),
    ("完整报告请见https://x.org/a。", [("https://x.org/a", "url")]),
    ("A <p class=don't>x</p>", [("<p class=don't>", "tag"), ("</p>", "tag")]),  # stray apostrophe
    ("Tell the Acme Inc. Board at https://acme.com/Acme Inc. Board", [("https://acme.com/Acme", "url")]),
])
def test_protected_spans(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_glossary_terms_are_spans_outside_markup() -> None:
    text = "Tell the Acme Inc. Board at `Acme Inc. Board`."
    assert found(text, GLOSSARY) == [("Acme Inc. Board", "term"), ("`Acme Inc. Board`", "code")]


def test_a_link_is_two_spans_but_one_unbreakable_region() -> None:
    text = "Read [the report. It is long](https://x.org/a.b) now."
    spans = protected_spans(text)
    assert [k for _, _, k in spans] == ["link_open", "link_close"]
    assert [text[s:e] for s, e in unbreakable(spans)] == ["[the report. It is long](https://x.org/a.b)"]


def test_the_issue_example_is_one_sentence_and_its_tag_one_placeholder() -> None:
    text = 'See <img alt="Fig. 1. The flooded area" src="m.png"> now. Then leave.'
    assert split_sentences(text) == [
        'See <img alt="Fig. 1. The flooded area" src="m.png"> now.', "Then leave.",
    ]
    masked = protect(split_sentences(text)[0], None, "ko")
    assert masked.text == "See [0] now."


@pytest.mark.parametrize(("text", "expected"), [
    ("He won.</b> Then he left.", ["He won.</b>", "Then he left."]),  # a closing tag is a closer
    ("He won. <b>Then</b> he left.", ["He won.", "<b>Then</b> he left."]),  # an opening tag opens
    ("Done. ![Map. Here](m.png) It shows.", ["Done.", "![Map. Here](m.png) It shows."]),
    ("Mail {user}. Then go.", ["Mail {user}.", "Then go."]),
])
def test_sentences_around_markup(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_glossary_term_is_not_cut_when_the_splitter_is_given_the_glossary() -> None:
    text = "She told Yahoo! News about it. It helped."
    assert split_sentences(text) == ["She told Yahoo!", "News about it.", "It helped."]
    assert split_sentences(text, GLOSSARY) == ["She told Yahoo! News about it.", "It helped."]


def test_split_long_prefers_cuts_outside_markup() -> None:
    def words(texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    text = 'one two <img alt="a b" src="c"> three four'
    assert split_long(text, 4, words) == ["one two", '<img alt="a b" src="c">', "three four"]


@pytest.mark.parametrize("junk", [
    "<a " * 30_000, '<a title="' * 20_000, "<!--" * 25_000, "<a href='x" * 10_000,
    "http://a" + ")" * 50_000, "[x](" * 20_000, "a.b@" * 20_000,
])
def test_junk_markup_is_linear(junk: str, hang_guard) -> None:
    # quadratic patterns would take minutes here
    with hang_guard(30):
        protected_spans(junk)
        assert "".join(split_sentences(junk)).replace(" ", "") == junk.replace(" ", "")


# ------------------------------------------------------------------ properties

_ATTR_WORDS = st.sampled_from(["Fig.", "1.", "The", "flooded", "area.", "Why?", "Yes!", "It", "x > y", "a.b"])
_ATTR = st.lists(_ATTR_WORDS, min_size=1, max_size=5).map(" ".join)
_HOST = st.lists(st.sampled_from(["www", "news", "example", "co", "x1"]), min_size=1, max_size=3).map(".".join)
_PATH = st.lists(st.sampled_from(["a.b", "p", "index.html", "v1.2", "q?x=1.5", "Foo_(bar)"]), max_size=3).map("/".join)
_URL = st.builds(lambda s, h, p: f"{s}://{h}.org/{p}", st.sampled_from(["http", "https"]), _HOST, _PATH)
_TAG = st.one_of(
    st.builds(lambda a, u: f'<img alt="{a}" src="{u}">', _ATTR, _URL),
    st.builds(lambda a: f"<span class='{a}' data-x=\"{a}\">", _ATTR),
    st.builds(lambda u: f'<a href="{u}">', _URL),
    st.sampled_from(["</a>", "<br/>", "<br />", "</span>", "<b>"]),
)
_EMAIL = st.builds(lambda a, h: f"{a}@{h}.org", st.sampled_from(["press", "first.last", "a+b"]), _HOST)
_CODE = st.builds(lambda a: f"`{a}`", _ATTR)
_LINK = st.builds(lambda a, u: f"[{a}]({u})", _ATTR, _URL)
_OTHER = st.sampled_from(["[3]", "{name}", "%(count)s", "Acme Inc. Board", "Yahoo! News"])
_ITEM = st.one_of(_TAG, _URL, _EMAIL, _CODE, _LINK, _OTHER)
_PROSE = st.lists(
    st.sampled_from(["The", "he", "said", "Smith", "It", "rained", "Dr.", "U.S.", "Why?", "Yes!",
                     "now.", "then.", ".", "?", "!", ",", '"', "(", ")", "\n"]),
    max_size=6,
).map(" ".join)


def _compose(parts: list[tuple[str, str]], tail: str) -> tuple[str, list[tuple[int, int]]]:
    """Prose with items in between (a space either side), and where each item lies."""
    text, where = "", []
    for prose, item in parts:
        text += prose + " "
        where.append((len(text), len(text) + len(item)))
        text += item + " "
    return text + tail, where


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_PROSE, _ITEM), min_size=1, max_size=5), tail=_PROSE)
def test_no_sentence_boundary_inside_a_protected_span(parts: list[tuple[str, str]], tail: str) -> None:
    text, where = _compose(parts, tail)
    regions = unbreakable(protected_spans(text, GLOSSARY))
    for start, end in where:  # each inserted item is protected as a whole
        assert (start, end) in regions, (text[start:end], [text[s:e] for s, e in regions])

    sentences = split_sentences(text, GLOSSARY)
    bounds, pos = [], 0
    for sentence in sentences:
        pos = text.index(sentence, pos)
        bounds += [pos, pos + len(sentence)]
        pos += len(sentence)
    for start, end in regions:
        assert not [b for b in bounds if start < b < end], (text[start:end], sentences)
    # split then join gives back the text, whitespace aside
    assert re.sub(r"\s+", " ", " ".join(sentences)) == re.sub(r"\s+", " ", text).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.tuples(_PROSE, _ITEM), min_size=1, max_size=5),
    tail=_PROSE,
    lang=st.sampled_from(["ko", "zh-Hans"]),
)
def test_protect_restore_returns_every_span_byte_for_byte(
    parts: list[tuple[str, str]], tail: str, lang: str
) -> None:
    text, where = _compose(parts, tail)
    for sentence in split_sentences(text, GLOSSARY):
        masked = protect(sentence, GLOSSARY, lang)
        identity = restore(masked.text, masked)
        assert identity.text == sentence
        assert identity.issues == ()
        # a fake translation: every letter changes, the placeholders (no letters) stay
        fake = restore(re.sub(r"[A-Za-z]", "가", masked.text), masked)
        assert fake.issues == ()
        out = fake.text
        for span in masked.spans:
            assert span.source in out
            out = out.replace(span.source, "", 1)
    for start, end in where:  # no inserted item is left in the masked text for the model
        item = text[start:end]
        if not item.startswith("["):
            assert all(item not in protect(s, GLOSSARY, lang).text for s in split_sentences(text, GLOSSARY))


def test_a_tag_over_two_lines_survives_the_whole_way() -> None:
    source = 'See <img src="m.png"\n     alt="Fig. 1. Area"> now.'
    (sentence,) = split_sentences(source)
    masked = protect(sentence, None, "ko")
    assert masked.text == "See [0] now."
    restored = restore("지금\n\n[0]을 보세요.", masked)  # a model that added a blank line
    assert one_paragraph(restored.text) == '지금 <img src="m.png"\n     alt="Fig. 1. Area">을 보세요.'
