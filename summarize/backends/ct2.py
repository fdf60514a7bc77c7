"""CTranslate2 backend: the configured Hugging Face model, converted once and cached.

Inputs are tokenised with the model's own Hugging Face tokenizer and outputs decoded with it,
so source tokens, language handling and detokenisation are the ones the transformers backend
uses; only the forward passes run in CTranslate2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends import families
from summarize.backends.base import budget_groups, truncated
from summarize.backends.ct2_convert import SourceModel, ct2_version
from summarize.backends.ct2_setup import (
    call_errors,
    import_ctranslate2,
    intra_threads,
    load_tokenizer,
    prepare,
    search_options,
    seed_sampling,
)
from summarize.backends.limits import decoder_limit, model_input_limit, refuse_too_long
from summarize.config import BatchSettings, GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError


@dataclass(frozen=True)
class _ModelFacts:
    """What the backend needs from the Hugging Face config files, read without torch."""

    family: str
    max_input: int
    decoder_limit: int
    forced_bos_token_id: int | None
    pad_token: str | None
    end_tokens: tuple[str, ...] = ()


class CT2Backend:
    """A converted seq2seq model run by ``ctranslate2.Translator``; implements ``base.Backend``."""

    multi_target = True  # generate_multi: every target language of a batch in one call

    def __init__(
        self, spec: ModelSpec, translator: Any, tokenizer: Any, facts: _ModelFacts, *,
        source: SourceModel, model_dir: Path, device: str, quantization: str, compute_type: str,
    ) -> None:
        self.spec = spec
        self.translator = translator
        self.tokenizer = tokenizer
        self.family = facts.family
        self.facts = facts
        self.source = source
        self.model_dir = model_dir
        self.device = device
        self.quantization = quantization
        self.compute_type = compute_type
        # A safety net for direct calls: CT2 itself splits anything bigger into sub-batches.
        self.max_batch_tokens: int = BatchSettings.model_fields["max_batch_tokens"].default
        self._plans: dict[str | None, families.LangPlan] = {}

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> CT2Backend:
        """Resolve, convert (once, cached) and load ``spec``'s model. ``weights=False``: a
        tokenizer-only view (nothing converted or loaded; it cannot generate)."""
        ctranslate2 = import_ctranslate2()
        ready = prepare(spec, device, dtype, convert=weights)
        source, model_dir = ready.source, ready.model_dir
        tokenizer = load_tokenizer(source.path)
        facts = _model_facts(spec, source.path, tokenizer)
        if not weights:
            return cls(spec, None, tokenizer, facts, source=source, model_dir=model_dir,
                       device=ready.device_name, quantization=ready.quantization,
                       compute_type=ready.compute_type)
        try:
            translator = ctranslate2.Translator(str(model_dir), **ready.runtime(spec))
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"ctranslate2 cannot load {model_dir}: {exc}") from None
        return cls(
            spec, translator, tokenizer, facts, source=source, model_dir=model_dir,
            device=ready.device_name, quantization=ready.quantization,
            compute_type=translator.compute_type,
        )

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry: the source model's version, and how it was converted and is run."""
        local = self.source.revision is None
        return {
            "model": self.spec.model,
            "revision": self.spec.revision,
            "resolved_revision": self.source.revision or "",
            "local_path": str(self.source.path),
            "content_hash": self.source.content_hash,
            "backend": "ctranslate2",
            "family": self.family,
            "device": self.device,
            "dtype": self.compute_type,
            "compute_type": self.compute_type,
            "quantization": self.quantization,
            "converted_path": str(self.model_dir),
            "source": "local folder" if local else "hub snapshot",
            "ctranslate2": ct2_version(),
            "threads": intra_threads(self.spec),
            "max_input_tokens": self.facts.max_input,
        }

    def max_input_tokens(self) -> int:
        """Longest source in tokens, special tokens and language prefix included."""
        return self.facts.max_input

    def lang_plan(self, target_lang: str | None) -> families.LangPlan:
        """How this model is steered to ``target_lang`` (the same plan as the HF backend's)."""
        if target_lang not in self._plans:
            self._plans[target_lang] = families.plan(
                self.family, self.tokenizer, target_lang, model=self.spec.model,
                lang_codes={str(k): v for k, v in self.spec.lang_codes.items()}, forced_family=self.spec.family != "auto",
                default_bos_token_id=self.facts.forced_bos_token_id,
            )
        return self._plans[target_lang]

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Source length of each text exactly as generate_batch encodes it."""
        return [len(ids) for ids in self._encode(texts, self.lang_plan(target_lang))]

    def source_tokens(self, texts: Sequence[str], target_lang: str | None) -> list[list[str]]:
        """The token strings handed to CTranslate2: the HF tokenizer's ids, as tokens."""
        rows = self._encode(texts, self.lang_plan(target_lang))
        return [self.tokenizer.convert_ids_to_tokens(ids) for ids in rows]

    def target_prefix(self, target_lang: str | None) -> str | None:
        """The forced first target token (language code, or BART-CNN's ``<s>``), if any."""
        bos = self.lang_plan(target_lang).forced_bos_token_id
        return None if bos is None else str(self.tokenizer.convert_ids_to_tokens(bos))

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One translate_batch call; one output per input, in order."""
        if not texts:
            return []
        sources = self.source_tokens(texts, target_lang)
        refuse_too_long([len(s) for s in sources], self.facts.max_input, self.spec.model)
        prefix = self.target_prefix(target_lang)
        out: list[str] = [""] * len(texts)
        for budget, idx in self._budget_groups([len(s) for s in sources], settings):
            results = self._translate([sources[i] for i in idx], [prefix] * len(idx), settings,
                                      budget)
            for i, text in zip(idx, self._finish(results, [prefix] * len(idx), budget),
                               strict=True):
                out[i] = text
        return out

    def _budget_groups(self, lengths: Sequence[int], settings: GenerationSettings
                       ) -> list[tuple[int, list[int]]]:
        return budget_groups([min(settings.budget(n), self.facts.decoder_limit) for n in lengths])

    def _finish(self, results: Any, prefixes: Sequence[str | None], budget: int) -> list[str]:
        """Decoded texts; one that did not end on the end token stopped at its budget and is
        flagged ``truncated`` (the end token is asked for in the results, then dropped)."""
        texts: list[str] = []
        for result, prefix in zip(results, prefixes, strict=True):
            tokens = list(result.hypotheses[0])
            ended = bool(tokens) and tokens[-1] in self.facts.end_tokens
            text = self._decode([tokens[:-1] if ended else tokens], prefix)[0]
            texts.append(text if ended else truncated(text, budget))
        return texts

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """All target languages of a batch in one translate_batch call.

        Each row carries its own language prefix and target prefix. CTranslate2 cannot hand an
        encoder's output to another call, so the encoder runs once per row and language; the
        gain is one call (one set of sub-batches) per batch instead of one per language.
        """
        if not texts:
            return {lang: [] for lang in target_langs}
        rows: list[list[str]] = []
        prefixes: list[str | None] = []
        for lang in target_langs:
            rows.extend(self.source_tokens(texts, lang))
            prefixes.extend([self.target_prefix(lang)] * len(texts))
        refuse_too_long([len(r) for r in rows], self.facts.max_input, self.spec.model)
        n = len(texts)
        flat: list[str] = [""] * len(rows)
        for budget, idx in self._budget_groups([len(r) for r in rows], settings):
            group_prefixes = [prefixes[i] for i in idx]
            results = self._translate([rows[i] for i in idx], group_prefixes, settings, budget)
            for i, text in zip(idx, self._finish(results, group_prefixes, budget), strict=True):
                flat[i] = text
        return {lang: flat[i * n:(i + 1) * n] for i, lang in enumerate(target_langs)}

    def _translate(
        self, sources: list[list[str]], prefixes: list[str | None], settings: GenerationSettings,
        max_new: int,
    ) -> Any:
        target_prefix = [[p] if p else [] for p in prefixes] if any(prefixes) else None
        with call_errors(self.spec.model, len(sources)):
            seed_sampling(settings)
            return self.translator.translate_batch(
                sources, target_prefix=target_prefix, **self.decoding_options(settings, max_new)
            )

    # ------------------------------------------------------------------ helpers

    def decoding_options(self, settings: GenerationSettings, max_new_tokens: int) -> dict[str, Any]:
        """translate_batch options for one call, mirroring the HF backend's GenerationConfig."""
        pad = self.facts.pad_token
        return {
            **search_options(settings),
            "batch_type": "tokens",
            "max_batch_size": self.max_batch_tokens,
            "max_decoding_length": max_new_tokens,
            "min_decoding_length": min(settings.min_new_tokens, max_new_tokens),
            "suppress_sequences": [[pad]] if pad else None,
            "max_input_length": 0,  # never truncate: lengths are checked before
            "return_end_token": True,  # tells a finished output from one cut at its budget
        }

    def _encode(self, texts: Sequence[str], plan: families.LangPlan) -> list[list[int]]:
        if not texts:
            return []
        if plan.src_lang is not None and getattr(self.tokenizer, "src_lang", None) != plan.src_lang:
            self.tokenizer.src_lang = plan.src_lang
        encoded = self.tokenizer(
            [plan.prefix + text for text in texts],
            add_special_tokens=True, padding=False, truncation=False, verbose=False,
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def _decode(self, hypotheses: list[list[str]], prefix: str | None) -> list[str]:
        rows = [h[1:] if prefix and h[:1] == [prefix] else h for h in hypotheses]
        kwargs: dict[str, Any] = {"skip_special_tokens": True, "clean_up_tokenization_spaces": True}
        if self.family == "marian":
            kwargs["use_source_tokenizer"] = False  # decode with the target spm, as HF does
        ids = [self.tokenizer.convert_tokens_to_ids(row) for row in rows]
        return [text.strip() for text in self.tokenizer.batch_decode(ids, **kwargs)]


def _model_facts(spec: ModelSpec, path: Path, tokenizer: Any) -> _ModelFacts:
    """Family, input limit and special tokens, read the way the HF backend reads them."""
    from transformers import AutoConfig, GenerationConfig

    config = AutoConfig.from_pretrained(str(path))
    try:
        generation = GenerationConfig.from_pretrained(str(path)).to_dict()
    except OSError:  # no generation_config.json: v5 derives it from config.json
        generation = GenerationConfig.from_model_config(config).to_dict()
    family = spec.family if spec.family != "auto" else families.detect_family(tokenizer, config)
    pad_id = generation.get("pad_token_id", getattr(config, "pad_token_id", None))
    eos_id = generation.get("eos_token_id", getattr(config, "eos_token_id", None))
    eos_ids = eos_id if isinstance(eos_id, list) else [eos_id]
    # Padding is never generated (the HF backend bans it); Marian's pad is not in the CT2 vocab.
    pad = None
    if pad_id is not None and pad_id not in eos_ids and family != "marian":
        pad = str(tokenizer.convert_ids_to_tokens(pad_id))
    return _ModelFacts(
        family=family,
        max_input=spec.max_input_tokens or model_input_limit(config, tokenizer),
        decoder_limit=decoder_limit(config),
        forced_bos_token_id=generation.get("forced_bos_token_id"),
        pad_token=pad,
        end_tokens=tuple(str(tokenizer.convert_ids_to_tokens(i)) for i in eos_ids if i is not None),
    )
