"""References for `summarize eval`: the shipped FLORES-200 devtest or the user's JSONL file,
each record checked and named by its line when it cannot be used."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from summarize.errors import InputError, RecordError
from summarize.records import BadRecord

SETS = ("flores200",)
FLORES_SIZE = 1012
FLORES_FILES = {"en": "eng_Latn.devtest", "ko": "kor_Hang.devtest", "zh-Hans": "zho_Hans.devtest"}
TARGETS = ("ko", "zh-Hans")
# sacrebleu's tokenizer for BLEU per target language: Chinese needs its own word splitting and
# Korean has no standard one in sacrebleu without MeCab, so it is scored on characters.
BLEU_TOKENIZE = {"ko": "char", "zh-Hans": "zh"}
REF_KEYS = ("id", "en", "ko", "zh-Hans", "summary", "body", "text", "meta")
# Licences of the models the shipped configs name (from their model cards), for hub models
# whose card is not on this machine.
LICENCES = {
    "sshleifer/distilbart-cnn-12-6": "apache-2.0",
    "Helsinki-NLP/opus-mt-en-zh": "apache-2.0",
    "Helsinki-NLP/opus-mt-tc-big-en-ko": "cc-by-4.0",
    "facebook/m2m100_418M": "mit",
    "facebook/m2m100_1.2B": "mit",
    "facebook/mbart-large-50-one-to-many-mmt": "mit",
    "facebook/nllb-200-distilled-600M": "cc-by-nc-4.0",
}
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@dataclass(frozen=True)
class Reference:
    """One record to evaluate: an English source with reference translations, and/or an
    article with a reference summary."""

    id: str
    en: str | None = None
    targets: dict[str, str] = field(default_factory=dict)  # language -> reference translation
    article: str | None = None  # the text to summarise, when ``summary`` is set
    summary: str | None = None


@dataclass
class ReferenceSet:
    name: str
    items: list[Reference]
    bad: list[BadRecord] = field(default_factory=list)


# ---------------------------------------------------------------------------- references


def _flores_lines(lang: str) -> list[str]:
    res = resources.files("summarize.data").joinpath("flores200").joinpath(FLORES_FILES[lang])
    return res.read_text(encoding="utf-8").removesuffix("\n").split("\n")


def flores200(limit: int | None = None) -> ReferenceSet:
    """The shipped FLORES-200 devtest (first ``limit`` sentences); ids are its line numbers."""
    lines = {lang: _flores_lines(lang) for lang in FLORES_FILES}
    n = min(FLORES_SIZE, limit or FLORES_SIZE)
    items = [Reference(f"devtest:{i + 1}", lines["en"][i],
                       {lang: lines[lang][i] for lang in TARGETS}) for i in range(n)]
    name = "flores200 devtest" + (f" (first {n} of {FLORES_SIZE})" if n < FLORES_SIZE else "")
    return ReferenceSet(name, items)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} is not a string (got {type(value).__name__})")
    if not value.strip():
        raise RecordError(f"{key} is empty")
    return value


def parse_reference(obj: Any, line: int) -> Reference:
    """A Reference from one JSONL object; RecordError says why it is unusable."""
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in REF_KEYS]
    if unknown:
        raise RecordError(f"unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(REF_KEYS)})")
    raw_id = obj.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        raise RecordError(f"id is not a string or number (got {type(raw_id).__name__})")
    rid = str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else f"line {line}"
    en = _text(obj, "en")
    targets = {lang: t for lang in TARGETS if (t := _text(obj, lang)) is not None}
    body, text, summary = _text(obj, "body"), _text(obj, "text"), _text(obj, "summary")
    if body is not None and text is not None:
        raise RecordError("has both body and text (give the article once)")
    if targets and en is None:
        raise RecordError(f"{'/'.join(targets)} given without the English source en")
    article = body or text
    if article is not None and summary is None:
        raise RecordError(f"{'body' if body else 'text'} given without a reference summary")
    if summary is not None and article is None and en is None:
        raise RecordError("summary given without the article (body, text or en)")
    if not targets and summary is None:
        raise RecordError("nothing to evaluate: needs en with ko and/or zh-Hans, "
                          "or summary with body, text or en")
    return Reference(rid, en if targets else None, targets,
                     (article or en) if summary is not None else None, summary)


def read_references(path: Path, limit: int | None = None) -> ReferenceSet:
    """The user's references, one JSON object a line; bad lines are kept as BadRecords."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read references {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"references {path} are not UTF-8 ({exc.reason} at byte {exc.start})") from None
    refs = ReferenceSet(str(path), [])
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if limit is not None and len(refs.items) >= limit:
            break
        obj: Any = None
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordError(f"malformed JSON: {exc.msg} (column {exc.colno})") from None
            ref = parse_reference(obj, number)
            if ref.id in seen:
                raise RecordError(f"id {ref.id!r} appears on an earlier line")
        except RecordError as exc:
            rid = obj.get("id") if isinstance(obj, dict) else None
            refs.bad.append(BadRecord(path.name, str(exc), number,
                                      str(rid) if isinstance(rid, str | int) else None))
            continue
        seen.add(ref.id)
        refs.items.append(ref)
    if not refs.items:
        raise InputError(f"no usable references in {path} ({len(refs.bad)} bad line(s)"
                         + (f"; first: {refs.bad[0].describe()}" if refs.bad else "") + ")")
    return refs
