"""Language handling per model family: BCP-47 tags in, model-specific codes out.

Model codes (``kor_Hang``, ``>>cmn_Hans<<``, ``ko_KR``...) are made here and stay inside the
backend; callers only ever pass ``"ko"``, ``"zh-Hans"`` or None (generate in English).

| family  | detected from                        | source        | target ko / zh-Hans              |
|---------|--------------------------------------|---------------|----------------------------------|
| marian  | MarianTokenizer / model_type marian  | (none)        | ``>>kor<<`` / ``>>cmn_Hans<<`` text prefix, only when the vocab has ``>>xx<<`` tokens |
| nllb    | NllbTokenizer                        | ``eng_Latn``  | forced BOS ``kor_Hang`` / ``zho_Hans`` |
| m2m100  | M2M100Tokenizer                      | ``en``        | forced BOS ``__ko__`` / ``__zh__``     |
| mbart50 | MBart50Tokenizer                     | ``en_XX``     | forced BOS ``ko_KR`` / ``zh_CN``       |
| plain   | anything else                        | (none)        | none: single-target models only        |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from summarize.errors import ConfigError

FAMILIES = ("marian", "nllb", "m2m100", "mbart50", "plain")

# family -> BCP-47 tag -> model code. "en" is the source language of every run.
LANG_CODES: dict[str, dict[str, str]] = {
    "marian": {"ko": "kor", "zh-Hans": "cmn_Hans"},
    "nllb": {"en": "eng_Latn", "ko": "kor_Hang", "zh-Hans": "zho_Hans"},
    "m2m100": {"en": "en", "ko": "ko", "zh-Hans": "zh"},
    "mbart50": {"en": "en_XX", "ko": "ko_KR", "zh-Hans": "zh_CN"},
}
SOURCE_LANG = "en"

_TOKENIZER_FAMILIES = {
    "MarianTokenizer": "marian",
    "NllbTokenizer": "nllb",
    "NllbTokenizerFast": "nllb",
    "M2M100Tokenizer": "m2m100",
    "MBart50Tokenizer": "mbart50",
    "MBart50TokenizerFast": "mbart50",
}
_MARIAN_TOKEN = re.compile(r"^>>[^<>\s]+<<$")


@dataclass(frozen=True)
class LangPlan:
    """How to steer one model towards one target language."""

    prefix: str = ""  # prepended to every source text (Marian's ">>kor<< ")
    src_lang: str | None = None  # tokenizer.src_lang, which sets the source language token
    forced_bos_token_id: int | None = None  # first generated token
    target_code: str | None = None  # the model's code for the target (for info and errors)


def detect_family(tokenizer: Any, config: Any) -> str:
    """Family of a loaded model, from its tokenizer class and ``config.model_type``."""
    name = type(tokenizer).__name__
    if name in _TOKENIZER_FAMILIES:
        return _TOKENIZER_FAMILIES[name]
    if getattr(config, "model_type", None) == "marian":
        return "marian"
    return "plain"


def marian_target_tokens(tokenizer: Any) -> list[str]:
    """The ``>>xx<<`` target-language tokens in a Marian vocabulary (empty: single target)."""
    return sorted(t for t in tokenizer.get_vocab() if _MARIAN_TOKEN.match(t))


def plan(
    family: str,
    tokenizer: Any,
    target_lang: str | None,
    *,
    model: str,
    lang_codes: Mapping[str, str] | None = None,
    forced_family: bool = False,
    default_bos_token_id: int | None = None,
) -> LangPlan:
    """The prefix, source language and forced BOS token for ``target_lang`` on this model.

    ``lang_codes`` (from the config) overrides the family's table for a language.
    ``forced_family`` says the config named the family; a "plain" model may then be used for a
    target language (it is single-target). ``default_bos_token_id`` is the model's own forced
    BOS for plain models (BART-CNN starts every summary with ``<s>``), kept because it is part
    of how the model was trained, not a tunable setting.
    """
    codes = {**LANG_CODES.get(family, {}), **(lang_codes or {})}
    if family == "plain":
        if target_lang is not None and not forced_family:
            raise ConfigError(
                f"model {model}: no known way to choose its output language (not Marian, NLLB, "
                f"M2M100 or mBART-50); if it only translates into {target_lang}, set "
                f"family: plain for it in the config"
            )
        return LangPlan(forced_bos_token_id=default_bos_token_id)
    if family == "marian":
        return _marian_plan(tokenizer, target_lang, model, codes)
    if family not in LANG_CODES:
        raise ConfigError(f"model {model}: unknown model family {family!r}")
    src = codes[SOURCE_LANG]
    target = codes.get(target_lang or SOURCE_LANG)
    if target is None:
        raise ConfigError(
            f"model {model}: no {family} language code for {target_lang}; set lang_codes in the config"
        )
    _token_id(family, tokenizer, src, model, SOURCE_LANG)
    return LangPlan(
        src_lang=src,
        forced_bos_token_id=_token_id(family, tokenizer, target, model, target_lang or SOURCE_LANG),
        target_code=target,
    )


def _marian_plan(
    tokenizer: Any, target_lang: str | None, model: str, codes: dict[str, str]
) -> LangPlan:
    available = marian_target_tokens(tokenizer)
    if target_lang is None or not available:
        return LangPlan()  # single-target model: the pair is fixed by the model itself
    code = codes.get(target_lang)
    if code is None:
        raise ConfigError(
            f"model {model}: no Marian target token for {target_lang}; set lang_codes in the config"
        )
    token = code if _MARIAN_TOKEN.match(code) else f">>{code}<<"
    if token not in tokenizer.get_vocab():
        raise ConfigError(
            f"model {model} needs a target-language token for {target_lang}, but {token} is not "
            f"in its vocabulary (it has {_sample(available)}); pick another model or set "
            f"lang_codes: {{{target_lang}: ...}} in the config"
        )
    return LangPlan(prefix=f"{token} ", target_code=token)


def _token_id(family: str, tokenizer: Any, code: str, model: str, lang: str) -> int:
    """Id of a language token, or a ConfigError naming model, language and some known codes."""
    if family == "m2m100":
        token = code if code.startswith("__") else f"__{code}__"
        known = list(getattr(tokenizer, "lang_token_to_id", {}))
        ids = getattr(tokenizer, "lang_token_to_id", {})
        if token in ids:
            return int(ids[token])
    else:
        token = code
        vocab = tokenizer.get_vocab()
        known = [t for t in vocab if re.fullmatch(r"[a-z]{2,3}_[A-Za-z]{2,4}", t)]
        if token in vocab:
            return int(vocab[token])
    raise ConfigError(
        f"model {model}: language token {token} for {lang} is not in its vocabulary "
        f"(it has {_sample(sorted(known))}); set lang_codes in the config"
    )


def _sample(tokens: list[str], n: int = 8) -> str:
    if not tokens:
        return "no language tokens"
    more = f", ... ({len(tokens)} in all)" if len(tokens) > n else ""
    return ", ".join(tokens[:n]) + more
