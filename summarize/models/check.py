"""Does each model of a profile produce usable output? A small built-in canary, scored.

Each translator translates twelve FLORES-200 devtest news sentences (numbers, names, a
quotation; see summarize/data/README.md) through the production path (protection, scheduler,
the profile's own generation settings), and the summariser summarises one short article.
A model fails when its output is empty, loops, is in the wrong script, has an absurd length,
or scores far below any working model (chrF against the professional references).

The thresholds only catch broken models (a bad conversion, a wrong language token, a wrong
tokenizer); they are not a quality bar. Tiny random-weight test models fail them, which is how
the test suite knows the check can fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from summarize.backends.base import Backend
from summarize.backends.devices import describe, first_line
from summarize.backends.scheduler import CANARY, generate_all, generate_all_multi
from summarize.config import Config, GenerationSettings, ModelSpec
from summarize.errors import ModelCheckError, ModelLoadError
from summarize.runs.memory import fingerprint
from summarize.runs.store import atomic_write, dump_json
from summarize.text.protect import protect, restore
from summarize.text.qa import check_segment
from summarize.text.sentences import split_sentences

CHECK_VERSION = 1
# chrF (sacrebleu, 0-100) a translator must reach on the canary. A fluent wrong-meaning or
# garbled output scores under 10; working models score far higher (README, "Checking models").
MIN_CHRF = 15.0
MIN_SCRIPT_SHARE = 0.6  # target-script letters among the non-Latin letters of the output
MAX_LOOPING = 0.25  # share of outputs that repeat themselves
LENGTH_RATIO = (0.3, 3.0)  # output / reference characters, whole canary
MIN_SUMMARY_OVERLAP = 0.5  # share of the summary's content words found in the article
_SCRIPTS: dict[str, Callable[[str], bool]] = {
    "ko": lambda c: "\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f",
    "zh-Hans": lambda c: "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\uf900" <= c <= "\ufaff",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = frozenset(["this", "that", "with", "from", "have", "been", "were", "which", "their", "there", "they", "them", "what", "when", "will", "would", "also", "into", "than", "then", "said", "says", "about", "after", "before", "over", "more"])


@dataclass
class Verdict:
    """The check of one model for one task and language."""

    task: str  # "translate" or "summarize"
    lang: str  # target language ("en" for the summary)
    model: str
    fingerprint: str
    scores: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sample: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@cache
def canary() -> dict[str, Any]:
    """The built-in sentences and article (FLORES-200 devtest, CC-BY-SA 4.0)."""
    text = resources.files("summarize.data").joinpath("canary.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def script_share(texts: Sequence[str], lang: str) -> float:
    """Target-script letters among all non-ASCII letters (Latin names and numbers are fine)."""
    is_target = _SCRIPTS[lang]
    letters = [c for t in texts for c in t if c.isalpha() and not c.isascii()]
    return sum(map(is_target, letters)) / len(letters) if letters else 0.0


def chrf(outputs: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_chrf(list(outputs), [list(references)]).score)


def judge_translations(
    outputs: Sequence[str | None], sources: Sequence[str], references: Sequence[str], lang: str
) -> tuple[dict[str, float], list[str]]:
    """Scores and problems of a translator's canary outputs (None: generation failed)."""
    problems: list[str] = []
    failed = sum(o is None for o in outputs)
    texts = [o or "" for o in outputs]
    if failed:
        problems.append(f"{failed} of {len(texts)} sentences could not be generated")
    empty = sum(1 for t in texts if not t.strip())
    looping = sum(1 for s, t in zip(sources, texts, strict=True) if t.strip()
                  and any(f.check == "repetition" for f in check_segment(s, t, lang)))
    share = script_share(texts, lang)
    ratio = sum(len(t) for t in texts) / max(1, sum(len(r) for r in references))
    score = chrf(texts, references)
    scores = {"chrf": round(score, 1), "script_share": round(share, 3),
              "length_ratio": round(ratio, 2), "empty": empty, "looping": looping}
    if empty > failed:
        problems.append(f"{empty - failed} of {len(texts)} outputs are empty")
    if looping > MAX_LOOPING * len(texts):
        problems.append(f"{looping} of {len(texts)} outputs repeat themselves (looping)")
    if share < MIN_SCRIPT_SHARE:
        problems.append(f"output is not in {lang}'s script ({share:.0%} of its letters are)")
    low, high = LENGTH_RATIO
    if not low <= ratio <= high:
        problems.append(f"output length is {ratio:.2f}x the reference's (expected {low}-{high})")
    if score < MIN_CHRF:
        problems.append(f"chrF {score:.1f} against the reference translations is below {MIN_CHRF}")
    return scores, problems


def judge_summary(summary: str | None, article: str) -> tuple[dict[str, float], list[str]]:
    """Scores and problems of the summariser's output for the canary article."""
    if summary is None:
        return {}, ["the article could not be summarised"]
    problems: list[str] = []
    words = [w.lower() for w in _WORD.findall(summary) if w.lower() not in _STOP]
    known = {w.lower() for w in _WORD.findall(article)}
    overlap = sum(w in known for w in words) / len(words) if words else 0.0
    ascii_share = (sum(c.isascii() for c in summary if c.isalpha())
                   / max(1, sum(c.isalpha() for c in summary)))
    looping = any(f.check == "repetition" for f in check_segment(article, summary, "ko"))
    scores = {"content_overlap": round(overlap, 3), "english_share": round(ascii_share, 3),
              "chars": len(summary)}
    if not summary.strip():
        problems.append("the summary is empty")
    elif ascii_share < 0.9:
        problems.append(f"the summary is not English ({ascii_share:.0%} Latin letters)")
    if looping:
        problems.append("the summary repeats itself (looping)")
    if summary.strip() and overlap < MIN_SUMMARY_OVERLAP:
        problems.append(f"only {overlap:.0%} of the summary's content words are in the article "
                        f"(at least {MIN_SUMMARY_OVERLAP:.0%} expected)")
    return scores, problems


def check_summarizer(backend: Backend, spec: ModelSpec, config: Config, fp: str) -> Verdict:
    """Summarise the canary article (as many of its sentences as the model's window holds)."""
    sentences = split_sentences(canary()["article"]["body"])
    window = spec.max_input_tokens or backend.max_input_tokens()
    article = sentences[0]
    for n in range(len(sentences), 0, -1):
        article = " ".join(sentences[:n])
        if backend.count_tokens([article], None)[0] <= window:
            break
    gen = generate_all(backend, [article], None, spec.generation, **config.batch.packing())
    scores, problems = judge_summary(gen.outputs[0], article)
    scores["article_sentences"] = n
    return Verdict("summarize", "en", spec.model, fp, scores, problems, gen.outputs[0] or "")


def check_translator(backend: Backend, spec: ModelSpec, langs: Sequence[str], config: Config,
                     fp: str) -> list[Verdict]:
    """One verdict per language; languages of one multilingual model share its calls."""
    sentences = canary()["sentences"]
    sources = [s["en"] for s in sentences]
    outputs = _translate(backend, sources, list(langs), spec.generation, config)
    verdicts = []
    for lang in langs:
        refs = [s[lang] for s in sentences]
        scores, problems = judge_translations(outputs[lang], sources, refs, lang)
        sample = next((o for o in outputs[lang] if o), "")
        verdicts.append(Verdict("translate", lang, spec.model, fp, scores, problems, sample))
    return verdicts


def _translate(backend: Backend, sources: list[str], langs: list[str],
               settings: GenerationSettings, config: Config) -> dict[str, list[str | None]]:
    masked = {lang: [protect(s, None, lang) for s in sources] for lang in langs}
    raw: dict[str, list[Any]] = {}
    if len(langs) > 1 and backend.multi_target and len(
            {tuple(m.text for m in masked[lang]) for lang in langs}) == 1:
        gen = generate_all_multi(backend, [m.text for m in masked[langs[0]]], langs, settings,
                                 **config.batch.packing())
        raw = {lang: [o[lang] if o else None for o in gen.outputs] for lang in langs}
    else:
        for lang in langs:
            gen = generate_all(backend, [m.text for m in masked[lang]], lang, settings,
                               **config.batch.packing())
            raw[lang] = list(gen.outputs)
    return {lang: [None if o is None else restore(o, m).text
                   for o, m in zip(raw[lang], masked[lang], strict=True)] for lang in langs}


def translator_groups(config: Config) -> list[tuple[ModelSpec, list[str]]]:
    """Languages served by one model with the same settings, which are generated together."""
    groups: dict[Any, list[str]] = {}
    for lang in config.languages:
        spec = config.translators[lang]
        key = (spec.key(), spec.generation, tuple(sorted(spec.lang_codes.items())))
        groups.setdefault(key, []).append(lang)
    return [(config.translators[langs[0]], langs) for langs in groups.values()]  # type: ignore[index]


WARM_UP_TEXTS = (CANARY, "Two sentences take the batched path.")


def warm_up(backend: Backend, langs: Sequence[str | None], settings: GenerationSettings) -> None:
    """One short generate with the run's own settings, two sentences (batched paths), before
    any work: a broken install, driver or decoding path fails here, once, naming the model."""
    texts = list(WARM_UP_TEXTS)
    named = [lang for lang in langs if lang is not None]
    try:
        if len(named) > 1 and backend.multi_target:
            multi = backend.generate_multi(texts, named, settings)  # type: ignore[attr-defined]
            counts = [len(multi[lang]) for lang in named]
        else:
            counts = [len(backend.generate_batch(texts, lang, settings)) for lang in langs]
    except Exception as exc:
        raise ModelLoadError(
            f"{describe(backend)} cannot generate with this profile's settings "
            f"(warm-up, {_settings_text(settings)}): {first_line(exc)}"
        ) from exc
    if any(n != len(texts) for n in counts):
        raise ModelLoadError(f"{describe(backend)} returned {counts} outputs for {len(texts)} inputs "
                             f"at warm-up ({_settings_text(settings)})")


def _settings_text(settings: GenerationSettings) -> str:
    return f"num_beams={settings.num_beams}, do_sample={settings.do_sample}"


CACHE_FILE = "model-checks.json"


def check_model(backend: Backend, spec: ModelSpec, langs: list[str] | None, config: Config,
                fp: str) -> list[Verdict]:
    """The canary verdicts for one model: its summary (langs None) or its languages."""
    return ([check_summarizer(backend, spec, config, fp)] if langs is None
            else check_translator(backend, spec, langs, config, fp))


Checker = Callable[[ModelSpec, "list[str] | None", str], "list[Verdict]"]


def run_model_checks(config: Config, models: Any, out_root: Path, progress: Any,
                     checker: Checker | None = None) -> list[dict[str, Any]]:
    """Check each model version on first use; passing checks are remembered in OUT.

    ``models`` fingerprints models (``fingerprint(spec)``) and, unless a ``checker(spec, langs,
    fp)`` is given (the ray engine runs it on a worker), loads them here (``get(spec)``).
    Raises ModelCheckError naming every failing model and why.
    """
    path = out_root / CACHE_FILE
    try:
        cache: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    results: list[dict[str, Any]] = []

    def key(fp: str, task: str, lang: str, settings: GenerationSettings) -> str:
        return fingerprint([CHECK_VERSION, fp, task, lang, settings.model_dump(mode="json")])

    jobs: list[tuple[ModelSpec, list[str] | None]] = [(config.summarizer, None)]
    jobs += [(spec, list(langs)) for spec, langs in translator_groups(config)]
    for spec, langs in jobs:
        fp = models.fingerprint(spec)
        task = "summarize" if langs is None else "translate"
        keys = {lang: key(fp, task, lang, spec.generation) for lang in (langs or ["en"])}
        if all(k in cache for k in keys.values()):
            results.extend({**cache[k], "cached": True} for k in keys.values())
            continue
        progress.log(f"checking {spec.model} ({', '.join(keys)}) on the built-in canary")
        verdicts = (checker(spec, langs, fp) if checker is not None
                    else check_model(models.get(spec), spec, langs, config, fp))
        for v in verdicts:
            entry = v.as_dict()
            results.append({**entry, "cached": False})
            if v.passed:
                cache[keys[v.lang]] = entry
    atomic_write(path, dump_json(cache))
    failed = [r for r in results if not r["passed"]]
    if failed:
        raise ModelCheckError(failure_message(failed))
    return results


def failure_message(failed: Sequence[dict[str, Any]]) -> str:
    lines = ["model check failed: these models' output on the built-in canary is unusable "
             "(scores: `summarize models check --config FILE`; skip with --no-check):"]
    for r in failed:
        lines.append(f"  {r['task']} {r['lang']} {r['model']}: {'; '.join(r['problems'])}")
    return "\n".join(lines)
