"""Sentence splitting, reassembly, long-text splitting and chunk packing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize.text.segment import (
    join_paragraphs,
    join_sentences,
    one_paragraph,
    pack_chunks,
    paragraph_count,
    split_long,
    split_paragraphs,
)
from summarize.text.sentences import split_sentences

# (paragraph, expected sentences)
SENTENCES: list[tuple[str, list[str]]] = [
    # plain prose
    ("One sentence.", ["One sentence."]),
    ("First one. Second one.", ["First one.", "Second one."]),
    ("No final stop", ["No final stop"]),
    ("Is it? Yes! Fine.", ["Is it?", "Yes!", "Fine."]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("", []),
    ("   \n  ", []),
    # titles and other abbreviations that never end a sentence
    (
        "Dr. Smith met Mr. and Mrs. Jones. They talked.",
        ["Dr. Smith met Mr. and Mrs. Jones.", "They talked."],
    ),
    ("Ms. Lee and Prof. Kim spoke first.", ["Ms. Lee and Prof. Kim spoke first."]),
    (
        "Gen. Milley briefed Sen. Warren. Rep. Ocasio-Cortez and Gov. Newsom objected.",
        ["Gen. Milley briefed Sen. Warren.", "Rep. Ocasio-Cortez and Gov. Newsom objected."],
    ),
    (
        "Windows 10 vs. Windows 11 is the debate. Users disagree.",
        ["Windows 10 vs. Windows 11 is the debate.", "Users disagree."],
    ),
    (
        "Fruit, e.g. Apples, is healthy, i.e. Good for you.",
        ["Fruit, e.g. Apples, is healthy, i.e. Good for you."],
    ),
    ("Approx. 1,000 people came. It rained.", ["Approx. 1,000 people came.", "It rained."]),
    (
        "No. 10 Downing St. is famous. Fig. 3 shows it.",
        ["No. 10 Downing St. is famous.", "Fig. 3 shows it."],
    ),
    ("The answer was No. The vote failed.", ["The answer was No.", "The vote failed."]),
    ("The St. Louis team won. They celebrated.", ["The St. Louis team won.", "They celebrated."]),
    ("He lives on Main St. The house is old.", ["He lives on Main St.", "The house is old."]),
    # companies
    (
        "Apple Inc. said profits rose. Acme Corp. The company declined to comment.",
        ["Apple Inc. said profits rose.", "Acme Corp.", "The company declined to comment."],
    ),
    (
        "Acme Ltd. Chief Executive Jo Bloggs resigned.",
        ["Acme Ltd. Chief Executive Jo Bloggs resigned."],
    ),
    ("Shares of Foo Co. fell. Bar Inc. rose.", ["Shares of Foo Co. fell.", "Bar Inc. rose."]),
    # dotted acronyms
    ("The U.S. Senate voted. The U.K. did not.", ["The U.S. Senate voted.", "The U.K. did not."]),
    ("The E.U. and the U.N. agreed on it.", ["The E.U. and the U.N. agreed on it."]),
    ("He moved to the U.S. He liked it.", ["He moved to the U.S.", "He liked it."]),
    ("He moved to Washington, D.C. He liked it.", ["He moved to Washington, D.C.", "He liked it."]),
    (
        "The firm, based in Washington, D.C., has 500 staff.",
        ["The firm, based in Washington, D.C., has 500 staff."],
    ),
    ("He earned a Ph.D. from M.I.T. in 1999.", ["He earned a Ph.D. from M.I.T. in 1999."]),
    # times and dates
    ("It starts at 9 a.m. Saturday. Come early.", ["It starts at 9 a.m. Saturday.", "Come early."]),
    (
        "Polls opened at 7 a.m. Voting closed at 8 p.m. Results are due.",
        ["Polls opened at 7 a.m.", "Voting closed at 8 p.m.", "Results are due."],
    ),
    ("The call is at 5 p.m. Eastern time.", ["The call is at 5 p.m. Eastern time."]),
    ("The call is at 5 p.m. GMT on Friday.", ["The call is at 5 p.m. GMT on Friday."]),
    ("Talks end at 6 p.m. on Monday.", ["Talks end at 6 p.m. on Monday."]),
    (
        "Born Jan. 5, 1990, she moved in Sept. 2001.",
        ["Born Jan. 5, 1990, she moved in Sept. 2001."],
    ),
    (
        "The meeting is on Dec. 12. The agenda is long.",
        ["The meeting is on Dec. 12.", "The agenda is long."],
    ),
    # initials
    ("J. K. Rowling wrote it. Fans queued.", ["J. K. Rowling wrote it.", "Fans queued."]),
    ("Author J.R.R. Tolkien was born in 1892.", ["Author J.R.R. Tolkien was born in 1892."]),
    ("They chose Plan B. The rest failed.", ["They chose Plan B.", "The rest failed."]),
    (
        "Smith et al. (2020) found it. Smith et al. The study was large.",
        ["Smith et al. (2020) found it.", "Smith et al.", "The study was large."],
    ),
    # numbers
    (
        "Prices rose 3.5% to $1.2bn. Analysts were surprised.",
        ["Prices rose 3.5% to $1.2bn.", "Analysts were surprised."],
    ),
    (
        "It sold for 1,000.50 euros. Version v2.0 shipped.",
        ["It sold for 1,000.50 euros.", "Version v2.0 shipped."],
    ),
    ("It costs $5. That is cheap.", ["It costs $5.", "That is cheap."]),
    ("He paid. $5 million was the price.", ["He paid.", "$5 million was the price."]),
    ("The score was 3-1. 45,000 fans watched.", ["The score was 3-1.", "45,000 fans watched."]),
    ("Sales grew in Q3. Q4 looks weaker.", ["Sales grew in Q3.", "Q4 looks weaker."]),
    ("1. Gather the facts first.", ["1. Gather the facts first."]),
    # ellipses
    ("He paused... then continued.", ["He paused... then continued."]),
    ("Wait... What happened? Nothing.", ["Wait...", "What happened?", "Nothing."]),
    ("He hesitated… Then he spoke.", ["He hesitated…", "Then he spoke."]),
    # quotes
    (
        'She said "We will win." The crowd cheered.',
        ['She said "We will win."', "The crowd cheered."],
    ),
    ('"Why?" he asked. "Stop!" she shouted.', ['"Why?" he asked.', '"Stop!" she shouted.']),
    ('"Why?" Smith asked. Nobody answered.', ['"Why?" Smith asked.', "Nobody answered."]),
    ("‘It was chaos!’ Mr. Lee told reporters.", ["‘It was chaos!’ Mr. Lee told reporters."]),
    ("“It is over.” Smith said.", ["“It is over.” Smith said."]),
    (
        "“It is over.” Smith said the deal had collapsed.",
        ["“It is over.”", "Smith said the deal had collapsed."],
    ),
    ('"Are you sure?" asked the reporter.', ['"Are you sure?" asked the reporter.']),
    ('He called it "a disaster". Then he left.', ['He called it "a disaster".', "Then he left."]),
    ('He said: "It\'s done." Officials agreed.', ['He said: "It\'s done."', "Officials agreed."]),
    (
        '"We are devastated. Our thoughts are with the families," the mayor said.',
        ['"We are devastated.', 'Our thoughts are with the families," the mayor said.'],
    ),
    # brackets
    ("(He left. She stayed.) Then it rained.", ["(He left. She stayed.)", "Then it rained."]),
    ("He won (narrowly). Then he celebrated.", ["He won (narrowly).", "Then he celebrated."]),
    ("The report (see p. 12) was released.", ["The report (see p. 12) was released."]),
    ("Rates were cut [again]. Markets rose.", ["Rates were cut [again].", "Markets rose."]),
    ("An open (bracket. Then text.", ["An open (bracket.", "Then text."]),
    # URLs, e-mail, domains, Markdown, code
    (
        "See https://example.com/a.b?x=1. Then reload.",
        ["See https://example.com/a.b?x=1.", "Then reload."],
    ),
    (
        "Read https://en.wikipedia.org/wiki/Foo_(bar). It helps.",
        ["Read https://en.wikipedia.org/wiki/Foo_(bar).", "It helps."],
    ),
    ("Mail press@who.int. Staff reply fast.", ["Mail press@who.int.", "Staff reply fast."]),
    (
        "Visit example.com. Or www.who.int. Both work.",
        ["Visit example.com.", "Or www.who.int.", "Both work."],
    ),
    (
        "Read [the report. It is long](https://x.org/a.b). Then act.",
        ["Read [the report. It is long](https://x.org/a.b).", "Then act."],
    ),
    (
        "Prices rose. [Read more](https://x.com/a). Done.",
        ["Prices rose.", "[Read more](https://x.com/a).", "Done."],
    ),
    ("Call `a.b(). X` now. End.", ["Call `a.b(). X` now.", "End."]),
    ("Use `os.path.join()`. It works.", ["Use `os.path.join()`.", "It works."]),
    # sentence starts that are not plain capitals
    (
        "Apple makes phones. iPhone sales rose. eBay fell.",
        ["Apple makes phones.", "iPhone sales rose.", "eBay fell."],
    ),
    ("He won. *This* matters.", ["He won.", "*This* matters."]),
    (
        "Lower case after a stop. is not a new sentence.",
        ["Lower case after a stop. is not a new sentence."],
    ),
    # whitespace
    ("First.   Second.\nThird.\n\n Fourth.", ["First.", "Second.", "Third.", "Fourth."]),
    ("  Leading and trailing.  ", ["Leading and trailing."]),
    ("Inside  spaces   stay. Yes.", ["Inside  spaces   stay.", "Yes."]),
    # news prose
    (
        "WASHINGTON (Reuters) - The U.S. Federal Reserve held rates steady on Wednesday. "
        "Fed Chair Jerome H. Powell said inflation had eased to 2.4% in Oct. but warned "
        "that risks remained. Markets rose 1.2%.",
        [
            "WASHINGTON (Reuters) - The U.S. Federal Reserve held rates steady on Wednesday.",
            "Fed Chair Jerome H. Powell said inflation had eased to 2.4% in Oct. but warned that risks remained.",
            "Markets rose 1.2%.",
        ],
    ),
    (
        'Floods displaced 12,000 people, the U.N. said on Tuesday. "We need help now," '
        "said Dr. Amina Yusuf of the W.H.O. Officials expect aid by Friday.",
        [
            "Floods displaced 12,000 people, the U.N. said on Tuesday.",
            '"We need help now," said Dr. Amina Yusuf of the W.H.O.',
            "Officials expect aid by Friday.",
        ],
    ),
    (
        "Shares in Acme Corp. fell 4.5 per cent to $12.30 at 3 p.m. in New York. "
        "The company, which employs approx. 3,000 people in the U.K., blamed weak demand.",
        [
            "Shares in Acme Corp. fell 4.5 per cent to $12.30 at 3 p.m. in New York.",
            "The company, which employs approx. 3,000 people in the U.K., blamed weak demand.",
        ],
    ),
    (
        "The ruling (No. 2024-17) takes effect Jan. 1. Critics, incl. Sen. Paul, oppose it. "
        "What happens next? Nobody knows!",
        [
            "The ruling (No. 2024-17) takes effect Jan. 1.",
            "Critics, incl. Sen. Paul, oppose it.",
            "What happens next?",
            "Nobody knows!",
        ],
    ),
]


@pytest.mark.parametrize(("paragraph", "expected"), SENTENCES)
def test_split_sentences(paragraph: str, expected: list[str]) -> None:
    assert split_sentences(paragraph) == expected


def test_sentence_table_is_big_enough() -> None:
    assert len(SENTENCES) >= 40


@pytest.mark.parametrize(("paragraph", "expected"), [row for row in SENTENCES if row[1]])
def test_each_expected_sentence_splits_to_itself(paragraph: str, expected: list[str]) -> None:
    for sentence in expected:
        assert split_sentences(sentence) == [sentence]


def _assert_slices_of(pieces: list[str], text: str, gap: str = r"\s+") -> None:
    """Pieces are non-empty, stripped, in order, and only whitespace lies between them."""
    assert all(p and p == p.strip() for p in pieces)
    pattern = r"\s*" + gap.join(re.escape(p) for p in pieces) + r"\s*"
    assert re.fullmatch(pattern, text), (pieces, text)


_NORMALISE = re.compile(r"\s+")

_TOKENS = [
    "Dr.",
    "U.S.",
    "p.m.",
    "e.g.",
    "Inc.",
    "J.",
    "No.",
    "3.5",
    "$1.2bn",
    "...",
    "…",
    "?",
    "!",
    ".",
    ",",
    ";",
    ":",
    " — ",
    '"',
    "“",
    "”",
    "‘",
    "’",
    "'",
    "(",
    ")",
    "[",
    "]",
    "`",
    "a.b()",
    "https://example.com/a.b?x=1",
    "press@who.int",
    "example.com",
    "[t. X](https://x.org/a.b)",
    "The",
    "he",
    "said",
    "Smith",
    "iPhone",
    "1.",
    "\n",
    "  ",
    " ",
]
_text = st.lists(
    st.one_of(st.sampled_from(_TOKENS), st.text(alphabet="aZ .?!\"')(\n\t`", max_size=6)),
    max_size=40,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_text)
def test_split_sentences_loses_nothing(paragraph: str) -> None:
    sentences = split_sentences(paragraph)
    _assert_slices_of(sentences, paragraph)
    assert _NORMALISE.sub(" ", " ".join(sentences)) == _NORMALISE.sub(" ", paragraph).strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_split_sentences_any_unicode(paragraph: str) -> None:
    _assert_slices_of(split_sentences(paragraph), paragraph)


def test_split_sentences_keeps_whitespace_inside_sentences() -> None:
    paragraph = "A  b\nc.\n\n  D\te."
    assert " ".join(split_sentences(paragraph)) == "A  b\nc. D\te."


def test_split_sentences_long_paragraph_is_linear_enough(hang_guard) -> None:
    paragraph = "Dr. Smith met the U.S. envoy at 5 p.m. on Monday. " * 2000
    with hang_guard(30):
        assert len(split_sentences(paragraph)) == 2000


# ---------------------------------------------------------------------------------------------
# Reassembly

JOINS = [
    (["Hello.", "World."], "en", "Hello. World."),
    (["  Hello. ", "", "World.  "], "en", "Hello. World."),
    (["안녕하세요.", "반갑습니다."], "ko", "안녕하세요. 반갑습니다."),
    (["你好。", "再见。"], "zh-Hans", "你好。再见。"),
    ([" 你好。 ", "  ", "再见。"], "zh-Hans", "你好。再见。"),
    (["你好。", "再见。"], "zh", "你好。再见。"),
    (["你好。", "再见。"], "zh-Hant", "你好。再见。"),
    (["こんにちは。", "さようなら。"], "ja", "こんにちは。さようなら。"),
    (["他用 Python.", "Python 很好。"], "zh-Hans", "他用 Python. Python 很好。"),
    (["苹果公司。", "Apple 很大。"], "zh-Hans", "苹果公司。Apple 很大。"),
    (["Hola.", "Adiós."], "es", "Hola. Adiós."),
    ([], "en", ""),
    ([" ", ""], "zh-Hans", ""),
]


@pytest.mark.parametrize(("sentences", "lang", "expected"), JOINS)
def test_join_sentences(sentences: list[str], lang: str, expected: str) -> None:
    assert join_sentences(sentences, lang) == expected


@pytest.mark.parametrize(("paragraph", "expected"), [r for r in SENTENCES if r[1]][:20])
def test_split_then_join_english_roundtrip(paragraph: str, expected: list[str]) -> None:
    assert join_sentences(split_sentences(paragraph), "en") == " ".join(expected)


# ---------------------------------------------------------------------------------------------
# One translated segment is one line

ONE_PARAGRAPH = [
    ("정부는 발표했다.", "정부는 발표했다."),
    ("  padded\t ", "padded"),
    ("first\n\nsecond", "first second"),  # a blank line from a model
    ("first \r\n \r\n second", "first second"),
    ("a\rb\u2028c\u2029d\x85e\x0bf\x0cg\x1ch", "a b c d e f g h"),
    ("keeps  inner\tspacing\u3000as is", "keeps  inner\tspacing\u3000as is"),
    ("中文\n\n句子。", "中文 句子。"),
    ("\n\n", ""),
    # a tag written over two lines stays byte for byte; a blank line goes even there
    ('<img src="a.png"\n     alt="x">\n\nnext', '<img src="a.png"\n     alt="x"> next'),
    ("<b\r\n>x \r\n y", "<b\r\n>x y"),
    ("<b\n\n>x", "<b >x"),
    ("<b\u2029>x", "<b >x"),
]


@pytest.mark.parametrize(("text", "expected"), ONE_PARAGRAPH)
def test_one_paragraph(text: str, expected: str) -> None:
    assert one_paragraph(text) == expected


def test_join_sentences_never_adds_a_paragraph() -> None:
    assert join_sentences(["One.\n\nTwo.", "Three."], "en") == "One. Two. Three."
    assert join_sentences(["一。\r\n\r\n二。", "三。"], "zh-Hans") == "一。 二。三。"


def test_one_paragraph_is_linear_on_long_whitespace(hang_guard) -> None:
    with hang_guard(30):
        assert one_paragraph("a" + " " * 200_000 + "b\n") == "a" + " " * 200_000 + "b"


_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_segment = st.lists(
    st.one_of(
        st.text(alphabet="ab 。,.\t\u3000" + _BREAKS, max_size=8),
        st.builds("<img{}alt='x'{}src='y'>".format, *[st.sampled_from([" ", *_BREAKS])] * 2),
    ),
    max_size=4,
).map("".join).filter(lambda t: t.strip())


@settings(max_examples=200, deadline=None)
@given(
    paragraphs=st.lists(st.lists(_segment, min_size=1, max_size=4), min_size=1, max_size=5),
    lang=st.sampled_from(["ko", "zh-Hans", "en"]),
)
def test_normalised_segments_keep_the_paragraph_count(paragraphs: list[list[str]], lang: str) -> None:
    normalised = [[one_paragraph(seg) for seg in segments] for segments in paragraphs]
    for seg in (seg for segments in normalised for seg in segments):
        assert seg == seg.strip() and seg
        # line breaks are left only inside tags, one at a time
        assert len(re.sub(r"<img[^>]*>", "", seg).splitlines()) <= 1, seg
        assert not re.search(r"\n\s*\n|\r\s*\r|\u2029", seg), seg
    for body in (
        join_paragraphs([" ".join(segments) for segments in normalised]),
        join_paragraphs([join_sentences(segments, lang) for segments in normalised]),
    ):
        assert paragraph_count(body) == len(paragraphs)
        assert len(split_paragraphs(body)) == len(paragraphs)


# ---------------------------------------------------------------------------------------------
# Paragraphs

PARAGRAPHS = [
    ("one\n\ntwo\n\nthree", ["one", "two", "three"]),
    ("one\ntwo", ["one\ntwo"]),
    ("one\n\n\n\ntwo", ["one", "two"]),
    ("one\n  \ntwo", ["one", "two"]),
    ("one\r\n\r\ntwo", ["one", "two"]),
    ("\n\none\n\n", ["one"]),
    ("", []),
]


@pytest.mark.parametrize(("body", "expected"), PARAGRAPHS)
def test_split_paragraphs(body: str, expected: list[str]) -> None:
    assert split_paragraphs(body) == expected
    assert paragraph_count(body) == len(expected)


def test_join_paragraphs_roundtrip() -> None:
    paragraphs = ["First para. Two sentences.", "Second\nwith a soft break.", "Third."]
    body = join_paragraphs(paragraphs)
    assert body == "First para. Two sentences.\n\nSecond\nwith a soft break.\n\nThird."
    assert split_paragraphs(body) == paragraphs


# ---------------------------------------------------------------------------------------------
# split_long


class CountingCounter:
    """A fake token counter that records how it was called."""

    def __init__(self, per_text: int = 0, unit: str = "word") -> None:
        self.per_text = per_text  # like special tokens a real tokenizer adds
        self.unit = unit
        self.calls = 0
        self.texts = 0

    def size(self, text: str) -> int:
        if self.unit == "word":
            return len(text.split()) + self.per_text
        return len(text) + self.per_text

    def __call__(self, texts: list[str]) -> list[int]:
        self.calls += 1
        self.texts += len(texts)
        return [self.size(t) for t in texts]


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def chars(texts: list[str]) -> list[int]:
    return [len(t) for t in texts]


SPLIT_LONG = [
    ("fits in budget", 5, ["fits in budget"]),
    ("  padded fits  ", 5, ["  padded fits  "]),
    ("a b c; d e f; g h i", 3, ["a b c;", "d e f;", "g h i"]),
    ("a b; c d; e f", 4, ["a b; c d;", "e f"]),
    ("a b c: d e f — g h i", 4, ["a b c:", "d e f —", "g h i"]),
    ("a b c - d e f", 4, ["a b c -", "d e f"]),
    # a comma before a conjunction is preferred over any other comma
    ("a b, c d, and e f g", 4, ["a b, c d,", "and e f g"]),
    ("a b c, d e f, g h i", 3, ["a b c,", "d e f,", "g h i"]),
    # a semicolon beats commas even when comma pieces would pack tighter
    ("a, b, c; d, e, f, g", 4, ["a, b, c;", "d, e, f, g"]),
    # no clause boundary: words
    ("one two three four five six seven", 3, ["one two three", "four five six", "seven"]),
    # a too-long clause is split further, its neighbours stay whole
    ("x y; a b c d e f g; z", 3, ["x y;", "a b c", "d e f", "g;", "z"]),
    # whitespace at a cut collapses to the join's single space
    ("a b\n\nc d", 2, ["a b", "c d"]),
]


@pytest.mark.parametrize(("text", "budget", "expected"), SPLIT_LONG)
def test_split_long(text: str, budget: int, expected: list[str]) -> None:
    assert split_long(text, budget, words) == expected


def test_split_long_does_not_cut_clauses_inside_links() -> None:
    # cutting at the link's own ";" would give ["x; [a;", "b c d](u) e"]
    assert split_long("x; [a; b c d](u) e", 4, words) == ["x;", "[a; b c d](u)", "e"]


def test_split_long_pathological_word_cut_by_characters() -> None:
    word = "x" * 3000
    pieces = split_long(f"start {word} end", 100, chars)
    assert all(len(p) <= 100 for p in pieces)
    assert pieces[0] == "start" and pieces[-1] == "end"
    assert "".join(pieces[1:-1]) == word


def test_split_long_pathological_word_fits_by_words() -> None:
    word = "y" * 3000
    assert split_long(f"{word} and more", 1, words) == [word, "and", "more"]


def test_split_long_character_cuts_are_few_calls() -> None:
    counter = CountingCounter(unit="char", per_text=2)
    pieces = split_long("z" * 3000, 50, counter)
    assert all(counter.size(p) <= 50 for p in pieces)
    assert "".join(pieces) == "z" * 3000
    assert counter.calls <= 6


def test_split_long_long_comma_list() -> None:
    text = ", ".join(f"item{i}" for i in range(2000))
    counter = CountingCounter()
    pieces = split_long(text, 50, counter)
    assert all(len(p.split()) <= 50 for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == text
    assert len(pieces) == 40
    assert counter.calls <= 8


def test_split_long_5000_words_is_batched() -> None:
    text = " ".join(f"w{i}" for i in range(5000))
    counter = CountingCounter(per_text=2)
    pieces = split_long(text, 100, counter)
    assert " ".join(pieces) == text
    assert all(counter.size(p) <= 100 for p in pieces)
    # the counter's fixed overhead is not charged once per word
    assert len(pieces) == 52  # ceil(5000 / 98)
    assert counter.calls <= 8
    assert counter.texts <= 3 * 5000


def test_split_long_non_additive_counter_is_verified() -> None:
    def rough(texts: list[str]) -> list[int]:  # subword-like: longer texts cost more than parts
        return [len(t) // 3 + len(t.split()) for t in texts]

    text = " ".join(["internationalisation"] * 60)
    pieces = split_long(text, 40, rough)
    assert all(n <= 40 for n in rough(pieces))
    assert " ".join(pieces) == text


def test_split_long_gives_up_on_a_single_character() -> None:
    def always_ten(texts: list[str]) -> list[int]:
        return [10] * len(texts)

    assert split_long("ab cd", 5, always_ten) == ["a", "b", "c", "d"]


def test_split_long_returns_blank_text_as_is() -> None:
    assert split_long(" \n ", 1, chars) == [" \n "]


def test_split_long_rejects_a_zero_budget() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        split_long("a b", 0, words)


_long_text = st.lists(
    st.one_of(
        st.sampled_from(["and", "but", ",", ";", ":", " — ", " - ", "\n", "[a, b](u)", "x" * 30]),
        st.text(alphabet="ab ,;:-", min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=60,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(_long_text, st.integers(min_value=1, max_value=8))
def test_split_long_by_words_keeps_text_and_budget(text: str, budget: int) -> None:
    pieces = split_long(text, budget, words)
    if words([text])[0] <= budget:
        assert pieces == [text]
        return
    assert all(n <= budget for n in words(pieces))
    _assert_slices_of(pieces, text)
    assert _NORMALISE.sub(" ", " ".join(pieces)) == _NORMALISE.sub(" ", text).strip()


@settings(max_examples=150, deadline=None)
@given(_long_text, st.integers(min_value=1, max_value=25))
def test_split_long_by_chars_keeps_text_and_budget(text: str, budget: int) -> None:
    pieces = split_long(text, budget, chars)
    if len(text) <= budget or not text.strip():  # blank text is returned as it is
        assert pieces == [text]
        return
    assert all(len(p) <= budget for p in pieces)
    _assert_slices_of(pieces, text, gap=r"\s*")


# ---------------------------------------------------------------------------------------------
# pack_chunks

PACKS = [
    ([], 10, []),
    ([3], 10, [[0]]),
    ([3, 3, 3], 10, [[0, 1, 2]]),
    ([5, 5, 5], 10, [[0, 1], [2]]),
    ([10, 10], 10, [[0], [1]]),
    # greedy would give [[0..3], [4]] (9 + 1); the same number of chunks, evened out
    ([3, 3, 3, 1, 1], 10, [[0, 1], [2, 3, 4]]),
    ([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 10, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]),
    ([0, 0, 4], 4, [[0, 1, 2]]),
]


@pytest.mark.parametrize(("counts", "budget", "expected"), PACKS)
def test_pack_chunks(counts: list[int], budget: int, expected: list[list[int]]) -> None:
    sentences = [f"s{i}" for i in range(len(counts))]
    assert pack_chunks(sentences, counts, budget) == expected


def test_pack_chunks_rejects_a_sentence_over_budget() -> None:
    with pytest.raises(ValueError, match="sentence 1 has 11 tokens"):
        pack_chunks(["a", "b"], [3, 11], 10)


def test_pack_chunks_rejects_mismatched_counts() -> None:
    with pytest.raises(ValueError, match="counts"):
        pack_chunks(["a", "b"], [3], 10)


def _greedy_chunk_count(counts: list[int], budget: int) -> int:
    chunks, total = 0, budget + 1
    for c in counts:
        if total + c > budget:
            chunks, total = chunks + 1, 0
        total += c
    return chunks


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=50).flatmap(
        lambda budget: st.tuples(
            st.just(budget), st.lists(st.integers(min_value=0, max_value=budget), max_size=40)
        )
    )
)
def test_pack_chunks_properties(case: tuple[int, list[int]]) -> None:
    budget, counts = case
    chunks = pack_chunks([""] * len(counts), counts, budget)
    assert [i for chunk in chunks for i in chunk] == list(range(len(counts)))
    assert all(chunk for chunk in chunks)
    assert all(sum(counts[i] for i in chunk) <= budget for chunk in chunks)
    assert len(chunks) == _greedy_chunk_count(counts, budget)


@pytest.mark.parametrize(
    "junk",
    [
        "." * 50_000,
        "a" * 100_000,
        "Dr. " * 30_000,
        "[" * 50_000,
        "`" * 50_000,
        "a@" * 50_000,
        "(a. B) " * 10_000,
    ],
)
def test_junk_input_is_handled_in_linear_time(junk: str, hang_guard) -> None:
    # quadratic regexes would take minutes here
    with hang_guard(30):
        _assert_slices_of(split_sentences(junk), junk)
        pieces = split_long(junk, 500, chars)
    assert all(len(p) <= 500 for p in pieces)


def test_the_hang_guard_fires(hang_guard) -> None:
    """The linear-time tests above would fail, not hang, if the code went super-linear."""
    with pytest.raises(TimeoutError, match="not linear"), hang_guard(0.2):
        while True:
            pass
