"""Glossary loading, validation, matching and hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarize.errors import ConfigError
from summarize.text.glossary import Glossary, load_glossary

YAML = """\
UNHCR:
  ko: 유엔난민기구
  zh-Hans: 联合国难民署
World Health Organization: {ko: 세계보건기구, zh-Hans: 世界卫生组织}
Open Doors: keep
Reuters: {ko: 로이터}
UN: {ko: 유엔, zh-Hans: keep}
"""


@pytest.fixture
def glossary(tmp_path: Path) -> Glossary:
    path = tmp_path / "glossary.yaml"
    path.write_text(YAML, encoding="utf-8")
    loaded = load_glossary(path)
    assert loaded is not None
    return loaded


@pytest.mark.parametrize(("term", "lang", "form"), [
    ("UNHCR", "ko", "유엔난민기구"),
    ("UNHCR", "zh-Hans", "联合国难民署"),
    ("World Health Organization", "zh-Hans", "世界卫生组织"),
    ("Open Doors", "ko", "Open Doors"),  # keep
    ("Reuters", "ko", "로이터"),
    ("Reuters", "zh-Hans", "Reuters"),  # no form for the language: the source form
    ("UN", "zh-Hans", "UN"),  # per-language keep
    ("UNHCR", None, "UNHCR"),
])
def test_forms(glossary: Glossary, term: str, lang: str | None, form: str) -> None:
    assert glossary.form(term, lang) == form


def test_loading_from_str_path_and_mapping_agree(glossary: Glossary, tmp_path: Path) -> None:
    assert load_glossary(str(tmp_path / "glossary.yaml")) == glossary
    assert load_glossary({"UNHCR": {"ko": "유엔난민기구"}}) == Glossary({"UNHCR": {"ko": "유엔난민기구"}})
    assert load_glossary(None) is None


def test_empty_file_is_an_empty_glossary(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    empty = load_glossary(path)
    assert empty is not None and len(empty) == 0
    assert empty.find("UNHCR said") == []


@pytest.mark.parametrize(("raw", "message"), [
    (["UNHCR"], "expected a mapping"),
    ({"UNHCR": "drop"}, "'UNHCR'"),
    ({"UNHCR": {}}, "'UNHCR'"),
    ({"UNHCR": {"ja": "UNHCR"}}, "'UNHCR': unknown language 'ja'"),
    ({"UNHCR": {"ko": ""}}, "'UNHCR': the ko form must be a non-empty string"),
    ({"UNHCR": {"ko": 5}}, "'UNHCR': the ko form"),
    ({"": "keep"}, "term ''"),
    ({"  ": "keep"}, "term '  '"),
    ({" UNHCR": "keep"}, "' UNHCR' has leading or trailing whitespace"),
    ({2024: "keep"}, "term 2024"),
])
def test_invalid_glossary_names_the_term(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_glossary(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read glossary"),
    ("UNHCR: [unclosed", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
])
def test_bad_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "g.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_glossary(path)


TERMS = Glossary({
    "UN": {}, "UNHCR": {}, "UN Security Council": {}, "C++": {}, ".NET": {}, "U.S.": {}, "Health": {},
})


@pytest.mark.parametrize(("text", "found"), [
    ("The UN said", ["UN"]),
    ("The UNHCR said", ["UNHCR"]),  # not "UN" inside "UNHCR"
    ("fun and UNs and un", []),  # word boundaries and case
    ("UN-backed talks, the UN's role", ["UN", "UN"]),
    ("The UN Security Council met", ["UN Security Council"]),  # longest first
    ("C++ and C++11 and ASP.NET and .NET", ["C++", ".NET"]),  # non-word edges still need a boundary
    ("U.S. officials", ["U.S."]),
    ("UN UNHCR UN", ["UN", "UNHCR", "UN"]),
])
def test_find(text: str, found: list[str]) -> None:
    matches = TERMS.find(text)
    assert [term for _, _, term in matches] == found
    assert all(text[s:e] == term for s, e, term in matches)


def test_find_without_terms() -> None:
    assert Glossary({}).find("anything") == []


def test_digest_is_stable_and_tracks_content() -> None:
    a = Glossary({"UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署"}, "Open Doors": {}})
    b = Glossary({"Open Doors": {}, "UNHCR": {"zh-Hans": "联合国难民署", "ko": "유엔난민기구"}})
    assert a.digest() == b.digest() == "989af018eecf205d"  # the translation memory keys on it
    changed = Glossary({"UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署署"}, "Open Doors": {}})
    assert changed.digest() != a.digest()
    assert changed.digest("ko") == a.digest("ko")  # a zh-Hans edit does not touch ko
    assert changed.digest("zh-Hans") != a.digest("zh-Hans")
    assert hash(a) == hash(b) and a == b


def test_glossary_is_immutable() -> None:
    forms = {"ko": "유엔"}
    g = Glossary({"UN": forms})
    forms["ko"] = "changed"
    assert g.form("UN", "ko") == "유엔"
    with pytest.raises(TypeError):
        g.entries["UN"]["ko"] = "x"  # type: ignore[index]
