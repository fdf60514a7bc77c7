"""The prompts chat models get, in one place and versioned, and the cleaner for their replies.

Every prompt is ONE user message (no system message): Gemma's templates refuse a system
role, and every template renders a user turn. Changing any text here changes
``PROMPT_FINGERPRINT``, which goes into the manifest and must go into the memory key, so no
output of an old prompt is reused under a new one; bump ``PROMPT_VERSION`` with it so people
can tell prompt generations apart.

Summary length: the prompt asks for about ``SUMMARY_WORDS`` words. It is a constant, not
derived from the per-call max_new_tokens, because ``count_tokens`` must count exactly the
prompt that reaches generate() and it is not given the settings. English runs about 1.3
tokens per word in the Qwen/Llama/Gemma vocabularies, so a summary at the target needs about
80 new tokens; keep ``max_new_tokens`` at 2x that or more (the summariser default, 142, is
fine). A reply cut at max_new_tokens is flagged by the backend, never passed on silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

Task = Literal["summarize", "translate"]

PROMPT_VERSION = "1"
SUMMARY_WORDS = 60

# BCP-47 tag -> (English name, native name).
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "ko": ("Korean", "한국어"),
    "zh-Hans": ("Simplified Chinese", "简体中文"),
}

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
    "- Keep every placeholder such as [0] or [1] exactly as written, where it belongs in the "
    "sentence.\n"
    "- Keep every number, and write names of people, places and organisations in their usual "
    "{language} form.\n"
    "- Keep the meaning and the neutral tone of a news text; do not add or leave out anything.\n\n"
    "Text:\n{text}"
)
# The retry after a reply that was not what was asked for: as short as possible, so a model
# that got lost in the rules gets nothing to get lost in. Never longer than the full prompt,
# so whatever fits the window for the first try fits for the retry.
PLAIN_SUMMARY_PROMPT = "Summarize this news article in English in about {words} words.\n\n{text}"
PLAIN_TRANSLATE_PROMPT = "Translate into {language}. Reply with the translation only.\n\n{text}"

# Bumped whenever clean_reply changes what it keeps, as that changes outputs too.
CLEANER_VERSION = "1"


def prompt_fingerprint() -> str:
    """Hash of every prompt text, the summary length and the cleaner: part of the memory key."""
    blob = json.dumps(
        {
            "version": PROMPT_VERSION,
            "cleaner": CLEANER_VERSION,
            "words": SUMMARY_WORDS,
            "languages": LANGUAGES,
            "prompts": [SUMMARY_PROMPT, TRANSLATE_PROMPT, PLAIN_SUMMARY_PROMPT,
                        PLAIN_TRANSLATE_PROMPT],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


PROMPT_FINGERPRINT = prompt_fingerprint()


def language_name(tag: str) -> str:
    """English name of a BCP-47 tag ("ko" -> "Korean"); ValueError for a tag we do not know."""
    if tag not in LANGUAGES:
        raise ValueError(f"no prompt for language {tag!r} (known: {', '.join(LANGUAGES)})")
    return LANGUAGES[tag][0]


def task_of(target_lang: str | None) -> Task:
    """A backend call with no target language summarises, one with a target translates."""
    return "summarize" if target_lang is None else "translate"


def user_prompt(text: str, target_lang: str | None, *, plain: bool = False) -> str:
    """The user message for ``text``: a summary in English (None) or a translation."""
    if target_lang is None:
        template = PLAIN_SUMMARY_PROMPT if plain else SUMMARY_PROMPT
        return template.format(words=SUMMARY_WORDS, text=text)
    language = language_name(target_lang)
    template = PLAIN_TRANSLATE_PROMPT if plain else TRANSLATE_PROMPT
    return template.format(language=language, native=LANGUAGES[target_lang][1], text=text)


def messages(text: str, target_lang: str | None, *, plain: bool = False) -> list[dict[str, str]]:
    """The conversation handed to the chat template."""
    return [{"role": "user", "content": user_prompt(text, target_lang, plain=plain)}]


# ---------------------------------------------------------------------- reply cleaner

_KEYWORD = r"(?:translat|summar|번역|요약|翻译|译文|翻譯|譯文|摘要|总结|總結|概要)"
_LANGUAGE = (r"(?:(?:simplified\s+)?chinese|korean|english|한국어|한글|중국어|영어|"
             r"简体中文|中文|韩语|韩文|英文)")
# Openers of a preamble line: "Here is the translation:", "Sure! Here's the Korean
# translation of the text:", "다음은 번역입니다.", "以下是翻译：".
_OPENER = re.compile(
    r"^(?:sure|certainly|of course|okay|ok\b|here|below|the following|다음은|아래는|以下|这是|這是|"
    r"好的)", re.IGNORECASE,
)
# A label in front of the answer on the same line: "Translation: ...", "번역: ...", "翻译：...".
_LABEL = re.compile(
    rf"^[\s*]*(?:(?:(?:sure|certainly|of course|okay)[,!.]?\s*)?(?:here(?:'s| is)\s+)?"
    rf"(?:the\s+|a\s+|my\s+)?(?:{_LANGUAGE}\s*)?"
    rf"(?:translation|summary|번역(?:문|본|\s*결과)?|요약(?:문)?|翻译|译文|摘要|总结)"
    rf"|{_LANGUAGE})(?:\s*\([^)\n]{{0,30}}\))?[\s*]*[:：][\s*]*",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)
_NOTE = re.compile(
    r"^[\s*(（\[]*(?:notes?|explanation|translator'?s note|remarks?|참고|주석|설명|注释|注意|"
    r"说明|備註|备注|附注|译注|注)\s*[)）\]]?[\s*]*[:：]",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"^(?:i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'?m unable|i am unable|"
    r"as an ai)\b",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "‘": "’", "'": "'"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.&'+-][A-Za-z0-9]+)*")

# Share of a reply's units (one per Hangul syllable, Han character or kana, one per Latin
# word, so an English name is one unit like a syllable) that must be in the target script.
MIN_TARGET_SHARE = 0.5


def clean_reply(
    reply: str, task: Task, target_lang: str | None, *, source: str | None = None
) -> tuple[str, str | None]:
    """The answer inside a chat model's reply, and a problem when it is not what was asked for.

    Removes what chat models wrap answers in: a reasoning block, a preamble line ("Here is the
    translation:", "번역:", "翻译："), a markdown code fence, quotes around the whole reply and
    a trailing "Note: ..." paragraph. Each is removed only where something is left and, when
    ``source`` is given, only where the source itself did not have it (a quoted sentence stays
    quoted). The problem (None when fine) says why the text is not a summary in English or a
    translation into ``target_lang``: empty, a refusal, reasoning only, or the wrong script.
    """
    text = reply.replace("\r\n", "\n").strip()
    if "<think>" in text and "</think>" not in text:
        return "", "the reply is unfinished reasoning (<think> without an answer)"
    text = _THINK.sub("", text)
    text = text.rsplit("</think>", 1)[-1].strip()  # the template may have opened <think>
    src = (source or "").strip()
    for _ in range(3):  # wrappers nest: a preamble, then a fence, then quotes
        before = text
        text = _strip_preamble(text, src)
        text = _strip_fence(text, src)
        text = _strip_note(text, src)
        text = _strip_quotes(text, src)
        if text == before:
            break
    if task == "summarize":
        text = " ".join(text.split())
    return text, reply_problem(text, target_lang, source=source)


def reply_problem(text: str, target_lang: str | None, *, source: str | None = None) -> str | None:
    """Why a cleaned reply is not a summary in English (None) / a translation, or None."""
    if not text.strip():
        return "empty reply"
    if _REFUSAL.match(text):
        return f"the reply is a refusal: {text[:80]!r}"
    untranslated = source and _squash(text) == _squash(source) and _LATIN_WORD.search(source)
    if target_lang is not None and untranslated:
        return "the reply is the source text, untranslated"
    lang = target_lang or "en"
    share = target_share(text, lang, source=source)
    if share is not None and share < MIN_TARGET_SHARE:
        name = LANGUAGES.get(lang, (lang, lang))[0]
        return f"the reply is not {name}: {share:.0%} of it is in the {_SCRIPT_NAMES[lang]} script"
    return None


def _squash(text: str) -> str:
    return "".join(text.casefold().split())


_SCRIPT_NAMES = {"en": "Latin", "ko": "Hangul", "zh-Hans": "Han"}


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _is_kana(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff"


def target_share(text: str, lang: str, *, source: str | None = None) -> float | None:
    """Share of ``text``'s units in ``lang``'s script; None when it has no letters at all.

    Latin words that also occur in ``source`` and look like names (a capital or a digit in
    them: people, brands, acronyms kept as written) are not counted for a Korean or Chinese
    target.
    """
    kept = {w for w in _LATIN_WORD.findall(source or "")
            if w != w.lower() or any(c.isdigit() for c in w)} if lang != "en" else set()
    latin = sum(1 for w in _LATIN_WORD.findall(text) if w not in kept)
    hangul = sum(map(_is_hangul, text))
    han = sum(map(_is_han, text))
    kana = sum(map(_is_kana, text))
    total = latin + hangul + han + kana
    if total == 0:
        return None
    native = {"en": latin, "ko": hangul, "zh-Hans": han}.get(lang)
    if native is None:
        raise ValueError(f"no script check for language {lang!r}")
    return native / total


def _strip_preamble(text: str, source: str) -> str:
    first, sep, rest = text.partition("\n")
    if sep and rest.strip() and _is_preamble(first) and "\n" not in source:
        return rest.strip()
    m = _LABEL.match(text)
    if m and text[m.end():].strip() and not _LABEL.match(source):
        return text[m.end():].strip()
    return text


def _is_preamble(line: str) -> bool:
    line = line.strip(" \t*#>")
    if not line or len(line) > 120:
        return False
    keyword, opener = re.search(_KEYWORD, line, re.IGNORECASE), _OPENER.match(line)
    colon = line.endswith((":", "："))
    return bool((colon and (keyword or opener)) or (opener and keyword))


def _strip_fence(text: str, source: str) -> str:
    m = _FENCE.match(text)
    if m and m.group(1).strip() and "```" not in source:
        return m.group(1).strip()
    return text


def _strip_note(text: str, source: str) -> str:
    blocks = _BLANK_LINE.split(text)
    if len(blocks) < 2 or _NOTE.match(source):
        return text
    # A note paragraph and everything after it go, as long as an answer is left before it.
    for i in range(1, len(blocks)):
        if _NOTE.match(blocks[i]):
            return "\n\n".join(blocks[:i]).strip()
    return text


def _strip_quotes(text: str, source: str) -> str:
    if len(text) < 2 or source[:1] in _QUOTES:
        return text
    close = _QUOTES.get(text[0])
    inner = text[1:-1]
    if close is None or text[-1] != close or not inner.strip():
        return text
    if text[0] in inner or close in inner:  # '"A," he said, "B"': the quotes are the text's
        return text
    return inner.strip()
