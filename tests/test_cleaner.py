"""The reply cleaner on realistic chat replies: the wrappers it removes, the replies it sends
back for a retry, and the legitimate content it must leave alone (no model needed)."""

from __future__ import annotations

import pytest

from summarize.backends import prompts
from summarize.backends.replies import clean_reply

KO = "시의회는 월요일 새 예산안을 승인했다."
ZH = "市议会周一批准了新预算。"
EN_SRC = "The city council approved the new budget on Monday."
SUMMARY = "The city council approved a new budget on Monday after a long debate."
ARTICLE = ("Council passes budget\n\nThe city council approved a new budget on Monday after a "
           "long debate.\n\nThe mayor said the plan protects schools.")

# (case id, reply, target (None: summary), source, cleaned text)
CLEANED = [
    ("md heading ko", f"## Korean Translation\n\n{KO}", "ko", EN_SRC, KO),
    ("md heading zh", f"### 简体中文翻译\n{ZH}", "zh-Hans", EN_SRC, ZH),
    ("bold heading", f"**Translation**\n{KO}", "ko", EN_SRC, KO),
    ("ko preamble, no colon", f"번역 결과는 다음과 같습니다.\n\n{KO}", "ko", EN_SRC, KO),
    ("ko preamble, 아래와 같이", f"요청하신 번역은 아래와 같습니다\n{KO}", "ko", EN_SRC, KO),
    ("zh preamble, no colon", f"翻译如下。\n{ZH}", "zh-Hans", EN_SRC, ZH),
    ("blockquote", f"> {KO}", "ko", EN_SRC, KO),
    ("blockquote, two lines", f"> {ZH}\n> 市长表示欢迎。", "zh-Hans", EN_SRC,
     f"{ZH}\n市长表示欢迎。"),
    ("bold wrap", f"**{KO}**", "ko", EN_SRC, KO),
    ("preamble then bold", f"Here is the translation:\n\n**{ZH}**", "zh-Hans", EN_SRC, ZH),
    ("inline note en", f'{KO} (Note: "council" is translated as 시의회.)', "ko", EN_SRC, KO),
    ("inline note ko", f"{KO}(참고: 예산안은 예산 계획을 뜻합니다)", "ko", EN_SRC, KO),
    ("inline note zh", f"{ZH}（注：council 译为市议会）", "zh-Hans", EN_SRC, ZH),
    ("translation notes paragraph", f"{KO}\n\nTranslation notes:\n- council: 시의회\n- budget: 예산안",
     "ko", EN_SRC, KO),
    ("zh 翻译说明 paragraph", f"{ZH}\n\n翻译说明：council 译为市议会。", "zh-Hans", EN_SRC, ZH),
    ("note line without blank line", f"{ZH}\nNote: 周一 is Monday.", "zh-Hans", EN_SRC, ZH),
    ("rule then explanation", f"{KO}\n\n---\n\nI translated 'council' as 시의회 because it is the "
     "usual term.", "ko", EN_SRC, KO),
    ("rule around the answer", f"Translation:\n---\n{ZH}\n---\nExplanation: a literal rendering.",
     "zh-Hans", EN_SRC, ZH),
    ("summary bold title", f"**Council Passes Budget**\n\n{SUMMARY}", None, ARTICLE, SUMMARY),
    ("summary heading title", f"# Budget approved\n{SUMMARY}", None, ARTICLE, SUMMARY),
    ("summary word count", f"{SUMMARY} (Word count: 14)", None, ARTICLE, SUMMARY),
    ("summary word count line", f"{SUMMARY}\n\nWord count: 14", None, ARTICLE, SUMMARY),
    ("summary preamble", f"Here is a summary of the article in about 60 words:\n\n{SUMMARY}", None,
     ARTICLE, SUMMARY),
    ("summary title and count", f"**Budget Approved**\n{SUMMARY}\n(14 words)", None, ARTICLE,
     SUMMARY),
    ("think block then answer", f"<think>\nThe user wants Korean.\n</think>\n\n{KO}", "ko",
     EN_SRC, KO),
    ("closing tag only (template opened it)", f"Okay, Korean.\n</think>\n\n{KO}", "ko", EN_SRC, KO),
    # Legitimate content that must stay as it is.
    ("colon inside a translation", "관계자는 이렇게 말했다: 다리는 안전하다.", "ko",
     "The official said this: the bridge is safe.", "관계자는 이렇게 말했다: 다리는 안전하다."),
    ("zh colon inside", "市长表示：预算将保护学校。", "zh-Hans", "The mayor said: the budget will "
     "protect schools.", "市长表示：预算将保护学校。"),
    ("bold inside the text", "市议会**周一**批准了新预算。", "zh-Hans", EN_SRC,
     "市议会**周一**批准了新预算。"),
    ("two bold spans", "**시의회**는 **예산안**을 승인했다", "ko", EN_SRC,
     "**시의회**는 **예산안**을 승인했다"),
    ("bold title in the source stays bold", "**예산안 통과**", "ko", "**Budget passes**",
     "**예산안 통과**"),
    ("quotes inside", "“我们会赢，”他说，“一定会。”", "zh-Hans", '"We will win," he said, "surely."',
     "“我们会赢，”他说，“一定会。”"),
    ("다음은 as a sentence", "다음은 시장의 발언이다.", "ko", "What follows is the mayor's statement.",
     "다음은 시장의 발언이다."),
    ("source note stays", "참고: 가격에는 세금이 포함된다.", "ko", "Note: prices include tax.",
     "참고: 가격에는 세금이 포함된다."),
    ("source inline note stays", "수수료(참고: 학생은 면제)가 오른다.", "ko",
     "The fee (note: waived for students) rises.", "수수료(참고: 학생은 면제)가 오른다."),
    ("source blockquote stays", "> 우리는 이길 것이다.", "ko", "> We will win.", "> 우리는 이길 것이다."),
    ("names in parentheses", "세계보건기구(World Health Organization)는 경고를 발표했다.", "ko",
     "The World Health Organization issued a warning.",
     "세계보건기구(World Health Organization)는 경고를 발표했다."),
    ("long name in parentheses", "국제적십자위원회(International Committee of the Red Cross)는 "
     "성명을 냈다.", "ko", "The International Committee of the Red Cross issued a statement.",
     "국제적십자위원회(International Committee of the Red Cross)는 성명을 냈다."),
    ("acronym in parentheses zh", "国际货币基金组织（IMF）下调了预测。", "zh-Hans",
     "The IMF cut its forecast.", "国际货币基金组织（IMF）下调了预测。"),
    ("placeholders", "[0] 시의회는 [1] 예산안을 승인했다.", "ko", "[0] The council approved [1] the budget.",
     "[0] 시의회는 [1] 예산안을 승인했다."),
    ("summary with a colon", "Officials said one thing: the budget protects schools and roads.",
     None, ARTICLE, "Officials said one thing: the budget protects schools and roads."),
    ("summary quoting the article title", f"Council passes budget. {SUMMARY}", None, ARTICLE,
     f"Council passes budget. {SUMMARY}"),
]


@pytest.mark.parametrize(("case", "reply", "lang", "source", "text"), CLEANED,
                         ids=[c[0] for c in CLEANED])
def test_wrappers_are_removed_and_content_kept(case: str, reply: str, lang: str | None,
                                               source: str, text: str) -> None:
    task = prompts.task_of(lang)
    cleaned, problem = clean_reply(reply, task, lang, source=source)
    assert cleaned == text
    assert problem is None


# (case id, reply, target, source, substring of the problem): replies that must be asked again.
RETRIED = [
    ("back-translation ko", f"{KO}\n\nBack-translation: The city council approved the new budget "
     "on Monday.", "ko", EN_SRC, "not Korean"),
    ("back-translation zh, unlabelled", f"{ZH}\n(The city council approved the new budget on "
     "Monday.)", "zh-Hans", EN_SRC, "not Simplified Chinese"),
    ("back-translation in parentheses", f"{KO} (The city council approved the new budget on "
     "Monday.)", "ko", EN_SRC, "parenthesis"),
    ("labelled back-translation in parentheses", f"{ZH}（Back-translation: The council approved "
     "the budget.）", "zh-Hans", EN_SRC, "parenthesis"),
    ("romanisation line", f"{KO}\nSiuihoeneun woryoil sae yesananeul seunginhaetda.", "ko", EN_SRC,
     "romanisation"),
    ("romanisation in parentheses", f"{KO} (siuihoeneun woryoil yesaneul seunginhaetda)", "ko",
     EN_SRC, "parenthesis"),
    ("pinyin line", f"{ZH}\nShìyìhuì zhōuyī pīzhǔnle xīn yùsuàn.", "zh-Hans", EN_SRC,
     "not Simplified Chinese"),
    ("I hope this helps ko", f"{KO}\n\nI hope this helps!", "ko", EN_SRC, "talks to the reader"),
    ("I hope this helps summary", f"{SUMMARY}\n\nI hope this helps! Let me know if you need "
     "anything else.", None, ARTICLE, "talks to the reader"),
    ("ko chatter", f"{KO} 도움이 되셨기를 바랍니다.", "ko", EN_SRC, "talks to the reader"),
    ("zh chatter", f"{ZH}\n希望对您有帮助！", "zh-Hans", EN_SRC, "talks to the reader"),
    ("reasoning without tags, summary", "Okay, let me tackle this. The user wants a summary of "
     "an article about a city budget", None, ARTICLE, "reasoning"),
    ("reasoning, the user wants", "The user wants me to translate this into Korean. First, I "
     "need to", "ko", EN_SRC, "reasoning"),
    ("unfinished think", "<think>\nOkay, the user wants a Korean translation", "ko", EN_SRC,
     "unfinished reasoning"),
    ("think only", "<think>\nThe user wants Korean.\n</think>", "ko", EN_SRC, "reasoning only"),
]


@pytest.mark.parametrize(("case", "reply", "lang", "source", "problem"), RETRIED,
                         ids=[c[0] for c in RETRIED])
def test_replies_that_are_not_the_answer_get_a_problem(case: str, reply: str, lang: str | None,
                                                       source: str, problem: str) -> None:
    text, found = clean_reply(reply, prompts.task_of(lang), lang, source=source)
    assert found is not None and problem in found
    if "reasoning" in problem:
        assert text == ""  # reasoning never becomes an output, even if kept after the retry


def test_a_summary_of_an_article_that_says_i_hope_this_helps_is_kept() -> None:
    article = 'The charity said: "I hope this helps the families." Donations doubled.'
    reply = 'The charity said "I hope this helps the families" as donations doubled.'
    assert clean_reply(reply, "summarize", None, source=article) == (reply, None)
