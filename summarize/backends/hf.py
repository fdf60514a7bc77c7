"""The transformers backend: AutoModelForSeq2SeqLM.generate() with every setting explicit.

transformers v5 merges a model's ``generation_config.json`` into whatever config is passed to
``generate()`` (every unset field is filled from it), so a fresh GenerationConfig alone does
not keep hub defaults out. On load we therefore replace ``model.generation_config`` by one that
holds only the special token ids, and pass every setting on each call.

CPU threads: torch's intra-op pool is set at load to the process's count (``threads`` in the
config, else OMP_NUM_THREADS, else one per core; see backends/threads): it is process-wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from summarize.backends import families
from summarize.backends.base import budget_groups, truncated
from summarize.backends.hf_load import (
    Source,
    cuda_stats,
    device_errors,
    load_model,
    load_pretrained,
    provenance,
    row_forced_bos,
    seed_sampling,
    special_token_ids,
    transformers_info,
)
from summarize.backends.limits import decoder_limit, model_input_limit, refuse_too_long
from summarize.config import GenerationSettings, ModelSpec


class HFBackend:
    """A seq2seq model loaded with transformers; implements ``base.Backend``."""

    multi_target = True  # generate_multi: every target language of a batch in one call

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        model: Any,
        *,
        device: Any,
        family: str,
        source: Source,
        model_generation: dict[str, Any],
    ) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.family = family
        self._source = source
        self._model_generation = model_generation
        self._token_ids = special_token_ids(model_generation, model.config)
        self._plans: dict[str | None, families.LangPlan] = {}
        self._limit = spec.max_input_tokens or model_input_limit(model.config, tokenizer)
        self._decoder_limit = decoder_limit(model.config)
        self._resolved_revision, self._local_path, self._content_hash = provenance(source)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> HFBackend:
        """Load tokenizer and model from a hub id (at ``spec.revision``) or a local folder;
        ``weights=False``: a tokenizer-only view that cannot generate (see load_pretrained)."""
        from transformers import GenerationConfig

        source, tokenizer, model, torch_device = load_pretrained(spec, device, dtype, load_model,
                                                                 weights=weights)
        model_generation = model.generation_config.to_dict()
        model.generation_config = GenerationConfig(
            **special_token_ids(model_generation, model.config)
        )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        family: str = spec.family
        if family == "auto":
            family = families.detect_family(tokenizer, model.config)
        return cls(
            spec,
            tokenizer,
            model,
            device=torch_device,
            family=family,
            source=source,
            model_generation=model_generation,
        )

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry for this model."""
        return {
            **transformers_info(self),
            "family": self.family,
            "max_input_tokens": self._limit,
        }

    def max_input_tokens(self) -> int:
        """Longest source in tokens, special tokens and language prefix included."""
        return self._limit

    def device_stats(self, reset: bool = True) -> dict[str, Any] | None:
        """Peak CUDA memory of this model's device since the last reset (device-wide: the
        runner asks one backend per device, so models sharing a card do not reset each other)."""
        if self.device.type != "cuda":
            return None
        return cuda_stats(self.device, reset=reset)

    def lang_plan(self, target_lang: str | None) -> families.LangPlan:
        """How this model is steered to ``target_lang``; ConfigError if it cannot produce it."""
        if target_lang not in self._plans:
            self._plans[target_lang] = families.plan(
                self.family,
                self.tokenizer,
                target_lang,
                model=self.spec.model,
                lang_codes={str(k): v for k, v in self.spec.lang_codes.items()},
                forced_family=self.spec.family != "auto",
                default_bos_token_id=self._model_generation.get("forced_bos_token_id"),
            )
        return self._plans[target_lang]

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Source length of each text exactly as generate_batch encodes it."""
        if not texts:
            return []
        encoded = self._encode(texts, self.lang_plan(target_lang), tensors=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One generate() call per budget group of the batch (see budget_groups); one output
        per input, in order, flagged ``truncated`` where it stopped at its budget."""
        if not texts:
            return []
        plan = self.lang_plan(target_lang)
        groups = self._budget_groups(texts, plan, settings)
        out: list[str] = [""] * len(texts)
        for budget, idx in groups:
            part = [texts[i] for i in idx]
            for i, text in zip(idx, self._generate_group(part, plan, settings, budget), strict=True):
                out[i] = text
        return out

    def _budget_groups(self, texts: Sequence[str], plan: families.LangPlan,
                       settings: GenerationSettings) -> list[tuple[int, list[int]]]:
        """The batch's rows by their own budget; inputs over the model's limit refused."""
        lengths = [len(ids) for ids in self._encode(texts, plan, tensors=False)["input_ids"]]
        refuse_too_long(lengths, self._limit, self.spec.model)
        return budget_groups([min(settings.budget(n), self._decoder_limit) for n in lengths])

    def _generate_group(self, texts: Sequence[str], plan: families.LangPlan,
                        settings: GenerationSettings, max_new: int) -> list[str]:
        import torch

        encoded = self._encode(texts, plan, tensors=True)
        longest = int(encoded["attention_mask"].sum(dim=1).max())
        config = self.generation_config(settings, plan, max_new)
        with self._device_errors(len(texts), longest), torch.inference_mode():
            self._seed(settings)
            output = self.model.generate(
                input_ids=encoded["input_ids"].to(self.device),
                attention_mask=encoded["attention_mask"].to(self.device),
                generation_config=config,
            )
        return self._decode(output, plan, max_new)

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """All target languages of a batch in ONE generate() call, the encoder run once.

        NLLB/M2M100/mBART-50 encode the source the same way whatever the target (the target is
        only the forced first decoder token). The encoder's states are repeated once per
        language and each row's first decoder token is forced to its own language, so every
        decoding setting (greedy, beam search, sampling) sees exactly the rows it would see in
        one call per language, while transformers expands its inputs for beams only once.
        """
        plans = {lang: self.lang_plan(lang) for lang in target_langs}
        shared = len({(p.prefix, p.src_lang) for p in plans.values()}) == 1
        if not shared or not texts or any(p.forced_bos_token_id is None for p in plans.values()):
            return {lang: self.generate_batch(texts, lang, settings) for lang in target_langs}
        first = plans[target_langs[0]]
        out: dict[str, list[str]] = {lang: [""] * len(texts) for lang in target_langs}
        for budget, idx in self._budget_groups(texts, first, settings):
            part = self._multi_group([texts[i] for i in idx], plans, list(target_langs),
                                     settings, budget)
            for lang in target_langs:
                for i, text in zip(idx, part[lang], strict=True):
                    out[lang][i] = text
        return out

    def _multi_group(self, texts: Sequence[str], plans: dict[str, families.LangPlan],
                     langs: list[str], settings: GenerationSettings, max_new: int
                     ) -> dict[str, list[str]]:
        import torch
        from transformers import LogitsProcessorList
        from transformers.modeling_outputs import BaseModelOutput

        first = plans[langs[0]]
        encoded = self._encode(texts, first, tensors=True)
        longest = int(encoded["attention_mask"].sum(dim=1).max())
        n = len(texts)
        row_targets = [int(plans[lang].forced_bos_token_id or 0) for lang in langs for _ in range(n)]
        config = self.generation_config(settings, first, max_new, forced_bos=False)
        with self._device_errors(n * len(langs), longest), torch.inference_mode():
            ids = encoded["input_ids"].to(self.device)
            mask = encoded["attention_mask"].to(self.device)
            states = self.model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            self._seed(settings)
            output = self.model.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=states.repeat(len(langs), 1, 1)),
                attention_mask=mask.repeat(len(langs), 1),
                generation_config=config,
                logits_processor=LogitsProcessorList([row_forced_bos(row_targets)]),
            )
        decoded = self._decode(output, first, max_new)
        return {lang: decoded[i * n:(i + 1) * n] for i, lang in enumerate(langs)}

    def _device_errors(self, rows: int, longest: int) -> Any:
        return device_errors(self.spec.model, self.device, f"{rows} rows (longest {longest} tokens)")

    _seed = staticmethod(lambda settings: seed_sampling(settings))

    # ------------------------------------------------------------------ helpers

    def generation_config(
        self, settings: GenerationSettings, plan: families.LangPlan, max_new_tokens: int,
        *, forced_bos: bool = True,
    ) -> Any:
        """The complete GenerationConfig for one call; nothing comes from the model's own.

        ``forced_bos=False`` leaves the first token to a per-row processor (generate_multi).
        """
        from transformers import GenerationConfig

        beam = settings.num_beams > 1
        pad, eos = self._token_ids["pad_token_id"], self._token_ids["eos_token_id"]
        eos_ids = eos if isinstance(eos, list) else [eos]
        # Padding must never be generated: Marian also uses it as the decoder start token (its
        # hub configs list it in bad_words_ids); no seq2seq model should emit it mid-sequence.
        bad_words = [[pad]] if pad is not None and pad not in eos_ids else None
        sample = settings.do_sample
        return GenerationConfig(
            do_sample=sample,
            temperature=settings.temperature if sample else 1.0,
            top_k=settings.top_k if sample else None,
            top_p=settings.top_p if sample else 1.0,
            num_beams=settings.num_beams,
            num_return_sequences=1,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(settings.min_new_tokens, max_new_tokens),
            # Only beam search reads these; greedy gets the neutral values.
            length_penalty=settings.length_penalty if beam else 1.0,
            early_stopping=settings.early_stopping if beam else False,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            repetition_penalty=settings.repetition_penalty,
            forced_bos_token_id=plan.forced_bos_token_id if forced_bos else None,
            forced_eos_token_id=None,
            bad_words_ids=bad_words,
            use_cache=True,
            **self._token_ids,
        )

    def _encode(self, texts: Sequence[str], plan: families.LangPlan, *, tensors: bool) -> Any:
        if plan.src_lang is not None and getattr(self.tokenizer, "src_lang", None) != plan.src_lang:
            self.tokenizer.src_lang = plan.src_lang
        return self.tokenizer(
            [plan.prefix + text for text in texts],
            add_special_tokens=True,
            padding="longest" if tensors else False,
            truncation=False,
            return_tensors="pt" if tensors else None,
            verbose=False,  # the length check is ours, with a clearer message
        )

    def _decode(self, output: Any, plan: families.LangPlan, budget: int) -> list[str]:
        """Texts of generate()'s output rows; a row with no end-of-sequence token stopped at its
        budget and is flagged ``truncated``."""
        # Drop the decoder start token and the forced language token: some v5 tokenizers
        # (M2M100) no longer mark language tokens as special, so skip_special_tokens misses them.
        skip = 1 + (plan.forced_bos_token_id is not None)
        # transformers' clean_up_tokenization_spaces is meant for WordPiece and v5 refuses it for
        # BPE tokenizers; collapsing runs of whitespace is the safe part of it for any language.
        kwargs: dict[str, Any] = {
            "skip_special_tokens": True,
            "clean_up_tokenization_spaces": False,
        }
        if self.family == "marian":
            # v5 decodes with the source spm when the vocab is shared; the output is target text.
            kwargs["use_source_tokenizer"] = False
        texts = self.tokenizer.batch_decode(output[:, skip:], **kwargs)
        eos = self._token_ids["eos_token_id"]
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        rows = output[:, 1:].tolist()
        return [truncated(" ".join(text.split()), budget) if not eos_ids & set(row)
                else " ".join(text.split()) for text, row in zip(texts, rows, strict=True)]
