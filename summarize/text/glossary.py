"""Glossary: source terms with fixed target-language forms, or terms kept as they are.

YAML shape (a mapping from the English term to its forms)::

    UNHCR:
      ko: 유엔난민기구
      zh-Hans: 联合国难民署
    World Health Organization: {ko: 세계보건기구, zh-Hans: 世界卫生组织}
    Open Doors: keep          # brand: the source form in every language
    Reuters: {ko: 로이터}      # no zh-Hans form: kept as "Reuters" in zh-Hans

A term without a form for a language keeps its source form there (what a brand
usually wants); ``keep`` as a per-language value says the same explicitly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from summarize.config import LANGUAGES
from summarize.errors import ConfigError

KEEP = "keep"


@dataclass(frozen=True)
class Glossary:
    """Terms (case-sensitive, matched on word boundaries) and their per-language forms."""

    # term -> {lang: form}; a language missing from the inner mapping keeps the term.
    entries: Mapping[str, Mapping[str, str]]
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frozen = MappingProxyType({t: MappingProxyType(dict(f)) for t, f in self.entries.items()})
        object.__setattr__(self, "entries", frozen)
        object.__setattr__(self, "_pattern", _compile(frozen))

    def __hash__(self) -> int:
        return hash(self.digest())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, term: object) -> bool:
        return term in self.entries

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, term)`` matches, left to right, longest term first."""
        if self._pattern is None:
            return []
        return [(m.start(), m.end(), m.group()) for m in self._pattern.finditer(text)]

    def form(self, term: str, lang: str | None) -> str:
        """The form of ``term`` in ``lang`` (the term itself when kept or ``lang`` is None)."""
        forms = self.entries[term]
        if lang is None:
            return term
        return forms.get(lang, term)

    def digest(self, lang: str | None = None) -> str:
        """Stable hash of the glossary (or only of what matters for ``lang``)."""
        if lang is None:
            payload: Any = {t: dict(sorted(f.items())) for t, f in self.entries.items()}
        else:
            payload = {t: self.form(t, lang) for t in self.entries}
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _compile(entries: Mapping[str, Mapping[str, str]]) -> re.Pattern[str] | None:
    if not entries:
        return None
    # Alternation tries longer terms first, so "UN Security Council" wins over "UN".
    ordered = sorted(entries, key=lambda t: (-len(t), t))
    return re.compile("|".join(_bounded(t) for t in ordered))


def _bounded(term: str) -> str:
    """Regex for ``term`` that matches only where no word character touches it on either side."""
    # Applied to non-word edges too: "C++" must not match in "C++11", nor ".NET" in "ASP.NET".
    return r"(?<!\w)" + re.escape(term) + r"(?!\w)"


def load_glossary(source: Path | str | Mapping[str, Any] | None) -> Glossary | None:
    """Read and validate a glossary from a YAML file (path) or an already-parsed mapping."""
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read glossary {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"glossary {path} is not valid YAML: {exc}") from exc
        where = f"glossary {path}"
        if raw is None:
            raw = {}
    else:
        raw, where = source, "glossary"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of term -> forms, got {type(raw).__name__}")
    return Glossary({_check_term(term, where): _check_forms(term, value, where) for term, value in raw.items()})


def _check_term(term: object, where: str) -> str:
    if not isinstance(term, str) or not term.strip():
        raise ConfigError(f"{where}: term {term!r} must be a non-empty string")
    if term != term.strip():
        raise ConfigError(f"{where}: term {term!r} has leading or trailing whitespace")
    return term


def _check_forms(term: str, value: object, where: str) -> dict[str, str]:
    if value == KEEP:
        return {}
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"{where}: term {term!r}: expected 'keep' or a mapping of language -> form "
            f"({', '.join(LANGUAGES)}), got {value!r}"
        )
    forms: dict[str, str] = {}
    for lang, form in value.items():
        if lang not in LANGUAGES:
            raise ConfigError(
                f"{where}: term {term!r}: unknown language {lang!r} (known: {', '.join(LANGUAGES)})"
            )
        if not isinstance(form, str) or not form.strip():
            raise ConfigError(f"{where}: term {term!r}: the {lang} form must be a non-empty string")
        if form != KEEP:
            forms[lang] = form.strip()
    return forms
