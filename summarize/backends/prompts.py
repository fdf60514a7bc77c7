"""The prompts chat models get, in one place and versioned (the cleaner for their replies
is summarize.backends.replies).

Every prompt is ONE user message (no system message): Gemma's templates refuse a system
role, and every template renders a user turn. Changing any text here changes
``prompt_fingerprint()``, which goes into the manifest and the memory key, so no output of an
old prompt is reused under a new one; bump ``PROMPT_VERSION`` with it so people can tell
prompt generations apart.

Two prompt styles for translations (``ModelSpec.prompt``):

- ``rules`` (the default): the task and the rules of a news translation, the placeholder rule
  only when the text has placeholders;
- ``short``: the one-line instruction Tencent publishes for Hunyuan-MT-7B (model card of
  tencent/Hunyuan-MT-7B, "prompt template": an English line for most pairs, a Chinese line
  when Chinese is one side), worded here for these targets. Summaries use one prompt.

Summary length: the prompt asks for about ``SUMMARY_WORDS`` words. It is a constant, not
derived from the per-call max_new_tokens, because ``count_tokens`` must count exactly the
prompt that reaches generate() and it is not given the settings. English runs about 1.3
tokens per word in the Qwen/Llama/Gemma vocabularies, so a summary at the target needs about
80 new tokens; keep ``max_new_tokens`` at 2x that or more (the summariser default, 142, is
fine). A reply cut at max_new_tokens is flagged by the backend, never passed on silently.

The clock: some chat templates write today's date into the prompt (Llama 3.1-3.3 through
``date_string``/``strftime_now``). The backends render every prompt at ``PROMPT_DATE``
instead, so the same article gets the same prompt on any day; the date is in the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Literal

Task = Literal["summarize", "translate"]
Style = Literal["rules", "short"]

PROMPT_VERSION = "2"
DEFAULT_STYLE: Style = "rules"
SUMMARY_WORDS = 60
# The day every prompt is rendered at: the date Meta's Llama 3.1 template falls back to.
PROMPT_DATE = datetime(2024, 7, 26)
# Llama 3.x templates format ``date_string`` as "%d %b %Y".
PROMPT_DATE_STRING = PROMPT_DATE.strftime("%d %b %Y")

# BCP-47 tag -> (English name, native name).
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "ko": ("Korean", "한국어"),
    "zh-Hans": ("Simplified Chinese", "简体中文"),
}
# Placeholders as summarize.text.protect writes them into a masked text.
PLACEHOLDER = re.compile(r"\[\d+\]")

SUMMARY_PROMPT = (
    "Summarize the following English news article in English, in about {words} words.\n"
    "Write one paragraph of plain prose: no title, no bullet points, no introduction such as "
    '"Here is a summary". Keep names, numbers and dates exactly as in the article, and add '
    "nothing that is not in it.\n\n"
    "Article:\n{text}"
)
TRANSLATE_PROMPT = (
    "Translate the following English text into {language} ({native}).\n"
    "Rules:\n"
    "- Reply with the translation only: no introduction, notes, explanations or quotes.\n"
    "{placeholder_rule}"
    "- Keep every number, and write names of people, places and organisations in their usual "
    "{language} form.\n"
    "- Keep the meaning and the neutral tone of a news text; do not add or leave out anything.\n\n"
    "Text:\n{text}"
)
PLACEHOLDER_RULE = ("- Keep every placeholder such as [0] or [1] exactly as written, where it "
                    "belongs in the sentence.\n")
# The short style, after Hunyuan-MT's published prompts: English for a Korean target, Chinese
# for a Chinese one. The placeholder sentence is added only when the text has placeholders.
SHORT_TRANSLATE_PROMPT = ("Translate the following segment into {language}, without additional "
                          "explanation.{placeholder_rule}\n\n{text}")
SHORT_PLACEHOLDER_RULE = " Keep placeholders such as [0] exactly as written."
SHORT_TRANSLATE_PROMPT_ZH = "把下面的文本翻译成{native}，不要额外解释。{placeholder_rule}\n\n{text}"
SHORT_PLACEHOLDER_RULE_ZH = "[0] 这样的占位符原样保留。"
# The retry after a reply that was not what was asked for: as short as possible, so a model
# that got lost in the rules gets nothing to get lost in. Never longer than the full prompt,
# so whatever fits the window for the first try fits for the retry.
PLAIN_SUMMARY_PROMPT = "Summarize this news article in English in about {words} words.\n\n{text}"
PLAIN_TRANSLATE_PROMPT = "Translate into {language}. Reply with the translation only.\n\n{text}"
PLAIN_TRANSLATE_PROMPT_ZH = "翻译成{native}，只输出译文。\n\n{text}"

# Bumped whenever clean_reply changes what it keeps, as that changes outputs too.
CLEANER_VERSION = "2"


def prompt_fingerprint(style: Style = DEFAULT_STYLE) -> str:
    """Hash of every prompt text of ``style``, the summary length, the prompt date and the
    cleaner: part of the memory key."""
    translate = {
        "rules": [TRANSLATE_PROMPT, PLACEHOLDER_RULE, PLAIN_TRANSLATE_PROMPT],
        "short": [SHORT_TRANSLATE_PROMPT, SHORT_PLACEHOLDER_RULE, SHORT_TRANSLATE_PROMPT_ZH,
                  SHORT_PLACEHOLDER_RULE_ZH, PLAIN_TRANSLATE_PROMPT, PLAIN_TRANSLATE_PROMPT_ZH],
    }[style]
    blob = json.dumps(
        {
            "version": PROMPT_VERSION,
            "style": style,
            "cleaner": CLEANER_VERSION,
            "words": SUMMARY_WORDS,
            "date": PROMPT_DATE.isoformat(),
            "languages": LANGUAGES,
            "prompts": [SUMMARY_PROMPT, PLAIN_SUMMARY_PROMPT, *translate],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


PROMPT_FINGERPRINT = prompt_fingerprint()  # of the default style


def fingerprint_with(fingerprint: str, template: dict[str, str]) -> str:
    """A prompt fingerprint extended by how a model's template is handled (a closed reasoning
    block changes every prompt)."""
    blob = json.dumps({"prompts": fingerprint, **template}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def language_name(tag: str) -> str:
    """English name of a BCP-47 tag ("ko" -> "Korean"); ValueError for a tag we do not know."""
    if tag not in LANGUAGES:
        raise ValueError(f"no prompt for language {tag!r} (known: {', '.join(LANGUAGES)})")
    return LANGUAGES[tag][0]


def task_of(target_lang: str | None) -> Task:
    """A backend call with no target language summarises, one with a target translates."""
    return "summarize" if target_lang is None else "translate"


def user_prompt(text: str, target_lang: str | None, *, plain: bool = False,
                style: Style = DEFAULT_STYLE) -> str:
    """The user message for ``text``: a summary in English (None) or a translation."""
    if target_lang is None:
        template = PLAIN_SUMMARY_PROMPT if plain else SUMMARY_PROMPT
        return template.format(words=SUMMARY_WORDS, text=text)
    language = language_name(target_lang)
    native = LANGUAGES[target_lang][1]
    chinese = target_lang.startswith("zh")
    placeholders = bool(PLACEHOLDER.search(text))
    if plain:
        template = PLAIN_TRANSLATE_PROMPT_ZH if chinese and style == "short" else PLAIN_TRANSLATE_PROMPT
        return template.format(language=language, native=native, text=text)
    if style == "short":
        template, rule = ((SHORT_TRANSLATE_PROMPT_ZH, SHORT_PLACEHOLDER_RULE_ZH) if chinese
                          else (SHORT_TRANSLATE_PROMPT, SHORT_PLACEHOLDER_RULE))
    else:
        template, rule = TRANSLATE_PROMPT, PLACEHOLDER_RULE
    return template.format(language=language, native=native, text=text,
                           placeholder_rule=rule if placeholders else "")


def messages(text: str, target_lang: str | None, *, plain: bool = False,
             style: Style = DEFAULT_STYLE) -> list[dict[str, str]]:
    """The conversation handed to the chat template."""
    return [{"role": "user", "content": user_prompt(text, target_lang, plain=plain, style=style)}]
