"""The prompts chat models get, in one place and versioned, and the cleaner for their replies.

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
# "... as follows." without a colon: "번역 결과는 다음과 같습니다.", "翻译如下。"
_AS_FOLLOWS = re.compile(r"(?:as follows|below|다음과 같|아래와 같|如下)", re.IGNORECASE)
# A label in front of the answer on the same line: "Translation: ...", "번역: ...", "翻译：...".
_LABEL = re.compile(
    rf"^[\s*]*(?:(?:(?:sure|certainly|of course|okay)[,!.]?\s*)?(?:here(?:'s| is)\s+)?"
    rf"(?:the\s+|a\s+|my\s+)?(?:{_LANGUAGE}\s*)?"
    rf"(?:translation|summary|번역(?:문|본|\s*결과)?|요약(?:문)?|翻译|译文|摘要|总结)"
    rf"|{_LANGUAGE})(?:\s*\([^)\n]{{0,30}}\))?[\s*]*[:：][\s*]*",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)
_NOTE_WORDS = (r"(?:(?:translation|translator'?s?)\s+notes?|notes?|explanations?|remarks?|"
               r"번역\s*(?:노트|참고|설명)|참고|주석|설명|翻译(?:说明|注释|注)|注释|注意|说明|"
               r"備註|备注|附注|译注|注)")
# A note line or paragraph after the answer: "Note: ...", "Translation notes:", "(참고: ...)".
_NOTE = re.compile(rf"^[\s*(（\[]*{_NOTE_WORDS}\s*[)）\]]?[\s*]*[:：]", re.IGNORECASE)
# A note in parentheses inside the answer: "... (Note: "council" is 시의회.)".
_INLINE_NOTE = re.compile(rf"\s*[(（]\s*{_NOTE_WORDS}\s*[:：][^()（）]*[)）]", re.IGNORECASE)
_RULE_LINE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
_WORD_COUNT = re.compile(
    r"\s*(?:[(（\[]\s*(?:word count|words?)\s*[:：]?\s*\d+\s*[)）\]]|[(（\[]\s*\d+\s+words?\s*[)）\]]"
    r"|\n\s*\**word count\**\s*[:：]\s*\d+\**)\s*$",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"^(?:i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'?m unable|i am unable|"
    r"as an ai)\b",
    re.IGNORECASE,
)
# How a model's reasoning starts when it reaches the reply without <think> tags (a template
# that opened the block itself, a cut-off trace).
_REASONING = re.compile(
    r"^(?:(?:okay|ok|alright|all right|hmm+)[,.!]?\s+(?:let me|let's|let us|so\b|i need|"
    r"i'll|i will|i should|the user|first,)|let me (?:think|start|tackle|translate|summari[sz]e|"
    r"read|see|look|break)|the user (?:wants|is asking|asked|has asked|provided|has provided|"
    r"would like|gave)|i need to (?:translate|summari[sz]e)|first,? i (?:need|will|should|'ll))",
    re.IGNORECASE,
)
# Chat after the answer: "I hope this helps!", "도움이 되길 바랍니다.", "希望对您有帮助。"
_CHATTER = re.compile(
    r"(?:\bi hope (?:this|that|it) helps|\bhope (?:this|that) helps|\blet me know if\b|"
    r"\bfeel free to\b|\bis there anything else\b|\bif you (?:have|need) any (?:other|more|further)|"
    r"도움이 (?:되|됐|되었|되셨|되셨으|되었으)(?:기를|길|으면|면)|希望(?:这|這|以上)?(?:对|對)(?:你|您)有)",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "‘": "’", "'": "'"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_PAREN = re.compile(r"[(（]([^()（）\n]*)[)）]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.&'+-][A-Za-z0-9]+)*")

# Share of a reply's units (one per Hangul syllable, Han character or kana, one per Latin
# word, so an English name is one unit like a syllable) that must be in the target script.
MIN_TARGET_SHARE = 0.5


def clean_reply(
    reply: str, task: Task, target_lang: str | None, *, source: str | None = None
) -> tuple[str, str | None]:
    """The answer inside a chat model's reply, and a problem when it is not what was asked for.

    Removes what chat models wrap answers in: a reasoning block, a preamble line ("Here is the
    translation:", "번역 결과는 다음과 같습니다.", "## Korean Translation"), a markdown code
    fence, a blockquote, bold or quotes around the whole reply, a "---" line and what follows,
    a note paragraph ("Note: ...", "Translation notes:") or a note in parentheses; in a
    summary also a title line and a word count. Each is removed only where something is left
    and, when ``source`` is given, only where the source itself did not have it (a quoted
    sentence stays quoted). The problem (None when fine) says why the text is not a summary in
    English or a translation into ``target_lang``: empty, a refusal, reasoning, chat after the
    answer, a line in another script (a back-translation, a romanisation), the wrong script.
    Reasoning is never returned as the text: a reply that is only reasoning comes back empty.
    """
    text = reply.replace("\r\n", "\n").strip()
    if "<think>" in text and "</think>" not in text.split("<think>")[-1]:
        return "", "the reply is unfinished reasoning (<think> without an answer)"
    thought = "</think>" in text
    text = _THINK.sub("", text)
    text = text.rsplit("</think>", 1)[-1].strip()  # the template may have opened <think>
    if thought and not text:
        return "", "the reply is reasoning only (<think>...</think> without an answer)"
    src = (source or "").strip()
    for _ in range(4):  # wrappers nest: a preamble, then a fence, then quotes
        before = text
        text = _strip_preamble(text, src, task)
        if task == "summarize":
            text = _strip_title(text, src)
            text = _strip_word_count(text, src)
        text = _strip_fence(text, src)
        text = _strip_rule(text, src)
        text = _strip_note(text, src)
        text = _strip_inline_note(text, src)
        text = _strip_blockquote(text, src)
        text = _strip_bold(text, src)
        text = _strip_quotes(text, src)
        if text == before:
            break
    if _REASONING.match(text) and not _REASONING.match(src):
        # Never an output: the reasoning of a model that was to answer at once.
        return "", f"the reply is reasoning, not an answer: {text[:60]!r}"
    problem = reply_problem(text, target_lang, source=source) or _extra(text, target_lang, src)
    if task == "summarize":
        text = " ".join(text.split())
    return text, problem


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


def _extra(text: str, target_lang: str | None, source: str) -> str | None:
    """What is wrong with a reply that is mostly in the right script: chat after the answer,
    a line or a parenthesis in another script."""
    chatter = _CHATTER.search(text)
    if chatter and not _CHATTER.search(source):
        return f"the reply talks to the reader: {chatter.group(0)!r}"
    if target_lang is None:
        return None
    name = LANGUAGES.get(target_lang, (target_lang, target_lang))[0]
    lines = [line for line in text.split("\n") if line.strip()]
    for n, line in enumerate(lines, start=1):
        share = target_share(line, target_lang, source=source)
        if len(lines) > 1 and share is not None and share < MIN_TARGET_SHARE:
            return (f"line {n} of the reply is not {name} (a back-translation, romanisation or "
                    f"note?): {line.strip()[:60]!r}")
    for inner in _PAREN.findall(text):
        # Not a name kept in the original ("(World Health Organization)"): words the source
        # does not have (a romanisation), or a whole sentence (a back-translation).
        words = _LATIN_WORD.findall(inner)
        new = [w for w in words if w not in source]
        sentence = len(words) >= 5 and inner.strip().endswith((".", "!", "?"))
        if (len(new) >= 3 or sentence) and not target_share(inner, target_lang, source=source):
            return (f"a parenthesis in the reply is not {name} (a back-translation or "
                    f"romanisation?): {inner.strip()[:60]!r}")
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


def _strip_preamble(text: str, source: str, task: Task) -> str:
    first, sep, rest = text.partition("\n")
    # A translation of a one-line source has no line of its own to lose; an article (the
    # source of a summary) has many, so there the line must not be one of the article's.
    own = "\n" not in source if task == "translate" else first.strip() not in source
    if sep and rest.strip() and _is_preamble(first) and own:
        return rest.strip()
    m = _LABEL.match(text)
    if m and text[m.end():].strip() and not _LABEL.match(source):
        return text[m.end():].strip()
    return text


def _is_preamble(line: str) -> bool:
    raw = line.strip()
    heading = raw.startswith("#") or (raw.startswith("**") and raw.endswith("**") and len(raw) > 4)
    line = raw.strip(" \t*#>_")
    if not line or len(line) > 120:
        return False
    keyword = re.search(_KEYWORD, line, re.IGNORECASE)
    opener = _OPENER.match(line)
    colon = line.endswith((":", "："))
    if heading and len(line) <= 40 and (keyword or re.fullmatch(_LANGUAGE, line, re.IGNORECASE)):
        return True  # "## Korean Translation", "**번역**"
    return bool((colon and (keyword or opener)) or (opener and keyword)
                or (keyword and _AS_FOLLOWS.search(line)))


def _strip_title(text: str, source: str) -> str:
    """A summary's first line when it is a title: a heading or a line in bold."""
    first, sep, rest = text.partition("\n")
    raw = first.strip()
    title = raw.startswith("#") or (raw.startswith("**") and raw.endswith("**") and len(raw) > 4
                                    and raw.count("**") == 2)
    if sep and rest.strip() and title and len(raw.split()) <= 20 and raw not in source:
        return rest.strip()
    return text


def _strip_word_count(text: str, source: str) -> str:
    m = _WORD_COUNT.search(text)
    if m and text[:m.start()].strip() and not _WORD_COUNT.search(source):
        return text[:m.start()].strip()
    return text


def _strip_fence(text: str, source: str) -> str:
    m = _FENCE.match(text)
    if m and m.group(1).strip() and "```" not in source:
        return m.group(1).strip()
    return text


def _strip_rule(text: str, source: str) -> str:
    """A "---" line: leading ones go; one after the answer goes with everything below it."""
    if any(_RULE_LINE.match(line) for line in source.split("\n")):
        return text
    lines = text.split("\n")
    while len(lines) > 1 and _RULE_LINE.match(lines[0]):
        lines.pop(0)
    for i, line in enumerate(lines):
        if i and _RULE_LINE.match(line) and "\n".join(lines[:i]).strip():
            lines = lines[:i]
            break
    return "\n".join(lines).strip()


def _strip_note(text: str, source: str) -> str:
    """A note line or paragraph after the answer, and everything after it."""
    if any(_NOTE.match(line) for line in source.split("\n")):
        return text
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if _NOTE.match(lines[i]) and "\n".join(lines[:i]).strip():
            return "\n".join(lines[:i]).strip()
    return text


def _strip_inline_note(text: str, source: str) -> str:
    if _INLINE_NOTE.search(source):
        return text
    stripped = _INLINE_NOTE.sub("", text).strip()
    return stripped or text


def _strip_blockquote(text: str, source: str) -> str:
    lines = text.split("\n")
    if source.startswith(">") or not all(line.lstrip().startswith(">") for line in lines
                                         if line.strip()):
        return text
    inner = "\n".join(re.sub(r"^\s*>[ \t]?", "", line) for line in lines).strip()
    return inner or text


def _strip_bold(text: str, source: str) -> str:
    inner = text[2:-2]
    if (len(text) > 4 and text.startswith("**") and text.endswith("**") and "**" not in inner
            and inner.strip() and not source.startswith("**")):
        return inner.strip()
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
