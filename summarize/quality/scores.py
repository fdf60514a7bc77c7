"""Scores for `summarize eval`: chrF and BLEU of translations, ROUGE of summaries, QA flag
rates, and the licence of each model (from its card, else the shipped table)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from summarize.config import ModelSpec
from summarize.pipeline.assemble import (
    Translated,
)
from summarize.quality.references import BLEU_TOKENIZE, LICENCES, ROUGE_TYPES
from summarize.text.qa import CHECKS

# ---------------------------------------------------------------------------- scores


def translation_scores(outputs: Sequence[str], references: Sequence[str], lang: str
                       ) -> dict[str, Any]:
    """Corpus chrF and BLEU (sacrebleu, 0-100), BLEU with the language's tokenizer."""
    import sacrebleu

    refs = [list(references)]
    chrf = sacrebleu.corpus_chrf(list(outputs), refs)
    bleu = sacrebleu.corpus_bleu(list(outputs), refs, tokenize=BLEU_TOKENIZE[lang])
    return {"chrf": round(float(chrf.score), 2), "bleu": round(float(bleu.score), 2),
            "bleu_tokenize": BLEU_TOKENIZE[lang]}


def rouge_scores(outputs: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measures (rouge-score, stemmed English, 0-100)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for out, ref in zip(outputs, references, strict=True):
        for name, score in scorer.score(ref, out).items():
            totals[name] += score.fmeasure
    n = max(1, len(outputs))
    return {name: round(100 * total / n, 2) for name, total in totals.items()}


def qa_rates(results: Sequence[Translated]) -> dict[str, Any]:
    """Share of segments with any QA flag, and per check (segments with that check)."""
    n = len(results)
    flagged = sum(1 for r in results if r.qa)
    per_check = {c: sum(1 for r in results if any(f.check == c for f in r.qa)) for c in CHECKS}
    return {"segments": n, "flagged": flagged, "flagged_share": round(flagged / n, 4) if n else 0.0,
            "checks": {c: {"segments": k, "share": round(k / n, 4)}
                       for c, k in per_check.items() if k}}


def model_licence(spec: ModelSpec, info: dict[str, Any]) -> str:
    """The licence in the model card's front matter when the card is on disk, else the
    table of the shipped configs' models, else "unknown"."""
    for folder in (info.get("local_path"), spec.model):
        if folder:
            licence = card_licence(Path(folder) / "README.md")
            if licence:
                return licence
    return LICENCES.get(spec.model, "unknown")


def card_licence(path: Path) -> str | None:
    """``license:`` of a model card's YAML front matter, if it has one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    if end < 0:
        return None
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return None
    value = meta.get("license") if isinstance(meta, dict) else None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value) if value else None
