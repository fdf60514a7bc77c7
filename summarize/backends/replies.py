"""The reply cleaner: what a chat model wraps around its answer (preambles, labels, fences,
notes, word counts, quotes, think blocks) is stripped, and a reply that is still not the
answer (a refusal, reasoning, chatter, the wrong script) is named by ``reply_problem``.
Versioned by ``prompts.CLEANER_VERSION`` (in the prompt fingerprint)."""

from __future__ import annotations

import re

from summarize.backends.prompts import LANGUAGES, Task

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
