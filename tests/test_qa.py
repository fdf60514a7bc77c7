"""QA checks on translated segments: each check fires on what it is for and stays quiet on good output."""

from __future__ import annotations

import pytest

from summarize.text.glossary import load_glossary
from summarize.text.protect import protect, restore
from summarize.text.qa import CHECKS, QAFlag, check_segment, summarize_flags, traditional_chars

GLOSSARY = load_glossary({"Open Doors": "keep", "UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署"}})

# Real-looking news sentences with good translations: no check may fire on any of them.
CLEAN = [
    ("The government announced new measures to curb inflation on Tuesday.",
     "정부는 화요일 인플레이션을 억제하기 위한 새로운 조치를 발표했다.",
     "政府周二宣布了抑制通货膨胀的新措施。"),
    ("More than 1,200 people were evacuated after heavy rain caused flooding in the region.",
     "폭우로 이 지역에 홍수가 발생한 뒤 1,200명 이상이 대피했다.",
     "暴雨导致该地区发生洪灾后，超过1200人被疏散。"),
    ("The UNHCR said the number of displaced people rose 3.5% last year.",
     "유엔난민기구는 지난해 실향민 수가 3.5% 증가했다고 밝혔다.",
     "联合国难民署表示，去年流离失所者人数增加了3.5%。"),
    ("Apple's new iPhone 15 Pro will go on sale in South Korea on Friday.",
     "Apple의 새 iPhone 15 Pro가 금요일 한국에서 판매된다.",
     "Apple新款iPhone 15 Pro将于周五在韩国开售。"),
    ("The company reported a profit of $1.2 billion for the quarter ending Nov. 30.",
     "이 회사는 11월 30일로 끝난 분기에 12억 달러의 이익을 보고했다.",
     "该公司公布截至11月30日的季度利润为12亿美元。"),
    ("Three people were injured when the bus overturned on the icy road near Seoul.",
     "서울 인근 빙판길에서 버스가 전복돼 세 명이 다쳤다.",
     "首尔附近结冰的道路上一辆公共汽车翻车，造成三人受伤。"),
    ("The central bank kept its benchmark rate at 3.50% for the fourth consecutive meeting.",
     "중앙은행은 4회 연속 기준금리를 3.5%로 동결했다.",
     "央行连续第四次会议将基准利率维持在3.50%。"),
    ("Read the full report at https://www.unhcr.org/global-trends-report-2024.",
     "전체 보고서는 https://www.unhcr.org/global-trends-report-2024 에서 볼 수 있다.",
     "完整报告请见https://www.unhcr.org/global-trends-report-2024。"),
    ("Read [the report](https://x.org/a) from Open Doors.",
     "Open Doors의 [보고서](https://x.org/a)를 읽어보세요.",
     "请阅读Open Doors的[报告](https://x.org/a)。"),
    ("Floods kill dozens in southern Brazil",
     "브라질 남부 홍수로 수십 명 사망",
     "巴西南部洪灾致数十人死亡"),
    ("UNHCR", "UNHCR", "UNHCR"),
    ("2024", "2024", "2024"),
]


@pytest.mark.parametrize(("source", "ko", "zh"), CLEAN)
def test_good_translations_pass_clean(source: str, ko: str, zh: str) -> None:
    assert check_segment(source, ko, "ko", glossary=GLOSSARY) == []
    assert check_segment(source, zh, "zh-Hans", glossary=GLOSSARY) == []


LONG = "The government announced new measures to curb inflation on Tuesday."
KO = "정부는 화요일 인플레이션을 억제하기 위한 새로운 조치를 발표했다."
ZH = "政府周二宣布了抑制通货膨胀的新措施。"

# (check, source, output, lang, fires)
CASES = [
    ("empty", LONG, "", "ko", True),
    ("empty", LONG, "  \n ", "zh-Hans", True),
    ("empty", "", "", "ko", False),
    ("empty", LONG, KO, "ko", False),

    ("untranslated", LONG, LONG, "ko", True),
    ("untranslated", LONG, "  the GOVERNMENT announced new measures to curb inflation on tuesday. ", "zh-Hans", True),
    ("untranslated", "the minister", "the minister", "ko", True),
    ("untranslated", "UNHCR", "UNHCR", "ko", False),  # acronym
    ("untranslated", "Reuters", "Reuters", "zh-Hans", False),  # one name
    ("untranslated", "Open Doors", "Open Doors", "ko", False),  # glossary brand
    ("untranslated", "https://x.org/a", "https://x.org/a", "ko", False),
    ("untranslated", "3.5%", "3.5%", "zh-Hans", False),
    ("untranslated", LONG, KO, "ko", False),

    ("wrong_script", LONG, ZH, "ko", True),  # Chinese for Korean
    ("wrong_script", LONG, KO, "zh-Hans", True),  # Korean for Chinese
    ("wrong_script", LONG, "政府は火曜日、インフレ抑制のための新たな措置を発表した。", "ko", True),
    ("wrong_script", LONG, "정부는 announced new measures to curb inflation.", "ko", True),  # half copied
    ("wrong_script", LONG, "政府週二宣布了抑制通貨膨脹的新措施。", "zh-Hans", True),  # Traditional
    ("wrong_script", LONG, "這是新措施。", "zh-Hans", True),  # one Traditional character is enough
    ("wrong_script", "Apple's iPhone 15 Pro Max sold well at Samsung Electronics stores.",
     "Apple의 iPhone 15 Pro Max는 Samsung Electronics 매장에서 잘 팔렸다.", "ko", False),  # copied names
    ("wrong_script", "Apple's Tim Cook met Samsung's Lee Jae-yong.",
     "Apple의 Tim Cook은 Samsung의 Lee Jae-yong과 만났다.", "ko", False),
    ("wrong_script", LONG, "정부는 新 조치를 발표했다.", "ko", False),  # a Hanja headline word
    ("wrong_script", LONG, "他说：“这是我们国家的新措施，会对经济发展有关键作用。”", "zh-Hans", False),

    ("repetition", LONG, "정부는 정부는 정부는 정부는 발표했다.", "ko", True),
    ("repetition", LONG, "政府的的的的的措施。", "zh-Hans", True),
    ("repetition", LONG, "中国政府表示，中国政府表示，中国政府表示，中国政府表示。", "zh-Hans", True),
    ("repetition", LONG, "the government said the government said the government said so", "ko", True),
    ("repetition", LONG, "매우, 매우, 매우 좋다.", "ko", False),  # three is emphasis, not a loop
    ("repetition", LONG, "총 1,000,000명과 2222년......!!!!", "ko", False),  # digits and punctuation
    ("repetition", LONG, "谢谢大家，谢谢！他笑着说：“哈哈哈，好的。”", "zh-Hans", False),
    ("repetition", LONG, KO, "ko", False),

    ("length_ratio", LONG, "정부.", "ko", True),  # truncated
    ("length_ratio", LONG, "政府。", "zh-Hans", True),
    ("length_ratio", LONG, KO + " " + KO + " " + KO, "ko", True),  # run-away
    ("length_ratio", LONG, ZH * 3, "zh-Hans", True),
    ("length_ratio", "Floods in Brazil", "브라질에서 발생한 대규모 홍수로 인해 수십 명이 사망했다", "ko", False),  # short source
    ("length_ratio", "See https://example.org/a/very/long/path/to/the/annual/report/2024.", "보기.", "ko", False),
    ("length_ratio", LONG, KO, "ko", False),
    ("length_ratio", LONG, ZH, "zh-Hans", False),

    ("number_mismatch", "More than 1,200 people were evacuated.", "1,300명 이상이 대피했다.", "ko", True),
    ("number_mismatch", "Prices rose 3.5% in 2024.", "2024년 물가는 3.4% 올랐다.", "ko", True),
    ("number_mismatch", "Prices rose 3.5% in 2024.", "2023年物价上涨3.5%。", "zh-Hans", True),
    ("number_mismatch", "Only 7% agreed.", "동의한 사람은 거의 없었다.", "ko", True),  # small, but a percentage
    ("number_mismatch", "More than 1,200 people were evacuated.", "超过１２００人被疏散。", "zh-Hans", False),
    ("number_mismatch", "The deal is worth $1.2 billion.", "거래 규모는 12억 달러다.", "ko", False),  # scale word
    ("number_mismatch", "About 2.5 million people live there.", "约250万人居住在那里。", "zh-Hans", False),
    ("number_mismatch", "Three or 3 people came on Nov. 2.", "11월 2일에 세 명이 왔다.", "ko", False),  # small integers
    ("number_mismatch", "The rate is 3.50%.", "금리는 3.5%다.", "ko", False),
]


@pytest.mark.parametrize(("check", "source", "output", "lang", "fires"), CASES)
def test_check(check: str, source: str, output: str, lang: str, fires: bool) -> None:
    flags = check_segment(source, output, lang, glossary=GLOSSARY)
    assert (check in {f.check for f in flags}) == fires, flags
    assert all(f.check in CHECKS and f.detail for f in flags)


def test_empty_output_reports_only_empty() -> None:
    assert check_segment(LONG, "", "ko") == [QAFlag("empty", "the output is empty")]


def test_details_say_what_is_wrong() -> None:
    (flag,) = check_segment("Prices rose 3.5% and 12.5%.", "물가가 3.5% 올랐다. 물가가 올랐다.", "ko")
    assert flag == QAFlag("number_mismatch", "missing from the output: 12.5")
    flags = check_segment(LONG, "政府週二宣布了抑制通貨膨脹的新措施。", "zh-Hans")
    assert flags == [QAFlag("wrong_script", "Traditional characters: 週 貨 脹")]


@pytest.mark.parametrize(("output", "check"), [
    ("보고서를 읽어보세요.", "span_lost"),  # both halves of the link lost
    ("[0][0]보고서[1]를 읽어보세요.", "span_duplicated"),
    ("[1]보고서[0]를 읽어보세요.", "span_repaired"),
])
def test_span_issues_become_flags(output: str, check: str) -> None:
    source = "Read [the report](https://x.org/a) now."
    restored = restore(output, protect(source, None, "ko"))
    flags = check_segment(source, restored.text, "ko", issues=restored.issues)
    assert check in {f.check for f in flags}
    assert sum(f.check.startswith("span_") for f in flags) == len(restored.issues) > 0


def test_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="'ja'"):
        check_segment("Hello there", "こんにちは", "ja")


def test_summarize_flags_counts_in_check_order() -> None:
    flags = [QAFlag("span_lost", "a"), QAFlag("empty", "b"), QAFlag("span_lost", "c")]
    assert summarize_flags(flags) == {"empty": 1, "span_lost": 2}
    assert list(summarize_flags(flags)) == ["empty", "span_lost"]
    assert flags[0].to_dict() == {"check": "span_lost", "detail": "a"}


# Traditional characters the old hand-written table missed, and common ones it had.
MISSED = "後並亂傘偽麵"
COMMON_TRADITIONAL = "這們國會對說時來與為發經過還點體關學開問題動現實長當應間從區"


@pytest.mark.parametrize("ch", MISSED + COMMON_TRADITIONAL)
def test_traditional_characters_are_flagged(ch: str) -> None:
    output = f"政府{ch}宣布了新措施。"
    assert traditional_chars(output) == [ch]
    assert QAFlag("wrong_script", f"Traditional characters: {ch}") in check_segment(LONG, output, "zh-Hans")


def test_traditional_characters_are_listed_once_in_order() -> None:
    assert traditional_chars("後來，並且後面亂了。麵") == ["後", "來", "並", "亂", "麵"]


# Ordinary Simplified news sentences, rich in characters that are the Simplified form of
# several Traditional ones (了 么 干 后 面 发 里 台 只 系 历 钟 冲 余 于 云 复 松 制 准 斗 范).
SIMPLIFIED = [
    "他说了什么？这么干下去不行。",
    "会后，干部们面对记者发表了讲话，皇后的头发里有一根白发。",
    "公里数、里程和面条价格都上涨了，他在里面吃了一碗面。",
    "台风过后，只有一只船被冲走，系统记录了这段历史。",
    "钟表厂准备于下周复工，余下的工人在松树林里斗地主。",
    "他打坏了窗户，沈先生重申这是意外。",  # 坏 and 沈: a phrase rule only (打坏, 沈重)
    "乾隆年间的《宫商角徵羽》被制成云端数据。",  # 乾 and 徵 in their Simplified uses
    "叱吒风云的哪吒爱吃蒜薹和菜薹。",  # OpenCC would rewrite these; exempt
    "他著有三本书，成绩显著，出现了新的范例。",
    "联合国难民署表示，去年流离失所者人数增加了3.5%。",
    "完整报告请见https://www.unhcr.org/global-trends-report-2024。",
]


@pytest.mark.parametrize("sentence", SIMPLIFIED)
def test_simplified_text_is_not_flagged(sentence: str) -> None:
    assert traditional_chars(sentence) == []
    assert not [f for f in check_segment(LONG, sentence, "zh-Hans") if "Traditional" in f.detail]


def test_simplified_canary_translations_are_not_flagged() -> None:
    import json
    from importlib import resources

    data = json.loads(resources.files("summarize.data").joinpath("canary.json").read_text("utf-8"))
    zh = [s["zh-Hans"] for s in data["sentences"]]
    assert zh
    assert {s: traditional_chars(s) for s in zh if traditional_chars(s)} == {}


def test_korean_hanja_are_not_taken_for_traditional_chinese() -> None:
    flags = check_segment(LONG, "정부는 화요일 國家 인플레이션을 억제하기 위한 새로운 조치를 발표했다.", "ko")
    assert flags == []
