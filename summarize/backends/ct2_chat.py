"""The chat backend on CTranslate2: an instruction-tuned causal LM run by ``ctranslate2.Generator``.

The model is converted once with CTranslate2's TransformersConverter and cached, as the seq2seq
CTranslate2 backend does (``ct2_setup.prepare``: int8 weights by default, computed in int8 on CPU).
Prompts, stops, limits, the reply cleaner and the one retry are ``chat_turns.ChatTurns``'s,
the same as the transformers chat backend's: the prompt token ids are the HF tokenizer's chat
template output, handed to CTranslate2 as token strings, and the new tokens are decoded by the
same tokenizer. A batch is ONE ``generate_batch`` call (CTranslate2 splits it into sub-batches
of at most ``max_batch_tokens`` itself); the prompt is fed at once, not returned.

Penalties look at the reply only, as on the transformers backend. CTranslate2 forwards every
prompt up to the batch's shortest one at once and feeds the rest of the longer prompts in its
decoding loop, where ``repetition_penalty`` and ``no_repeat_ngram_size`` would count those
prompt tokens (the end-of-turn token among them). So when either is set, rows are generated
in one call per prompt length, where every prompt is forwarded whole; with the neutral values
(the shipped LLM profile) a batch is one call.

Only the architectures below are accepted: the converter has a loader for each, and the tests
check, on tiny models of each, that CTranslate2's greedy output in float32 equals
transformers'. Any other is refused at load, before weights are downloaded.
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from summarize.backends import ct2_convert, ct2_setup
from summarize.backends.chat_turns import ChatTurns, Row, _Reply, prepare_tokenizer, text_config
from summarize.backends.limits import model_input_limit
from summarize.config import BatchSettings, GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError

# config.json model_type -> name, for the architectures checked against transformers.
CT2_CHAT_ARCHITECTURES = {
    "qwen2": "Qwen2 / Qwen2.5",
    "qwen3": "Qwen3 (dense)",
    "llama": "Llama",
    "gemma2": "Gemma 2",
    "gemma3": "Gemma 3 (4B-27B, multimodal checkpoint; text only)",
}


class CT2ChatBackend(ChatTurns):
    """A converted causal LM run by ``ctranslate2.Generator``; implements ``base.Backend``."""

    def __init__(
        self, spec: ModelSpec, generator: Any, tokenizer: Any, *, stop_ids: list[int],
        context: int, ready: ct2_setup.Prepared, architecture: str,
    ) -> None:
        self.generator = generator
        self.ready = ready
        # what a loaded Generator reports; a view reports what one would
        self.compute_type: str = generator.compute_type if generator is not None else ready.compute_type
        self.architecture = architecture
        # A safety net for direct calls: CT2 itself splits anything bigger into sub-batches.
        self.max_batch_tokens: int = BatchSettings.model_fields["max_batch_tokens"].default
        self._stop_tokens = tokenizer.convert_ids_to_tokens(stop_ids)
        self._init_turns(spec, tokenizer, stop_ids, context)

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> CT2ChatBackend:
        """Check the architecture, convert (once, cached) and load ``spec``'s model.
        ``weights=False``: a tokenizer-only view (nothing converted or loaded)."""
        from transformers import AutoConfig

        ctranslate2 = ct2_setup.import_ctranslate2()
        architecture = chat_architecture(spec)
        ready = ct2_setup.prepare(spec, device, dtype, convert=weights)
        tokenizer = ct2_setup.load_tokenizer(ready.source.path)
        config = AutoConfig.from_pretrained(str(ready.source.path))
        stop_ids, _ = prepare_tokenizer(spec, tokenizer, _generation_ids(ready, config), config)
        context = model_input_limit(text_config(config), tokenizer)
        if not weights:
            return cls(spec, None, tokenizer, stop_ids=stop_ids, context=context, ready=ready,
                       architecture=architecture)
        try:
            generator = ctranslate2.Generator(str(ready.model_dir), **ready.runtime(spec))
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"ctranslate2 cannot load {ready.model_dir}: {exc}") from None
        return cls(spec, generator, tokenizer, stop_ids=stop_ids, context=context, ready=ready,
                   architecture=architecture)

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry: the source model's version, its conversion, and the prompts."""
        source = self.ready.source
        return {
            "model": self.spec.model,
            "revision": self.spec.revision,
            "resolved_revision": source.revision or "",
            "local_path": str(source.path),
            "content_hash": source.content_hash,
            "backend": "ctranslate2",
            "architecture": self.architecture,
            "device": self.ready.device_name,
            "dtype": self.compute_type,
            "compute_type": self.compute_type,
            "quantization": self.ready.quantization,
            "converted_path": str(self.ready.model_dir),
            "source": "hub snapshot" if source.revision else "local folder",
            "ctranslate2": ct2_convert.ct2_version(),
            "threads": ct2_setup.intra_threads(self.spec),
            **self.prompt_info(),
        }

    # ------------------------------------------------------------------ generation

    def _generate(self, rows: list[Row], settings: GenerationSettings, max_new: int
                  ) -> list[_Reply]:
        """ONE generate_batch call for the rows of one budget (one per prompt length when
        penalties are on)."""
        prompts = [list(ids) for ids in self._encode(rows, tensors=False)["input_ids"]]
        options = self.generation_options(settings, max_new)
        order = list(range(len(rows)))
        if settings.repetition_penalty != 1.0 or settings.no_repeat_ngram_size > 0:
            order.sort(key=lambda i: len(prompts[i]))
            groups = [list(g) for _, g in groupby(order, key=lambda i: len(prompts[i]))]
        else:
            groups = [order]
        tokens: list[list[str]] = [[] for _ in rows]
        with ct2_setup.call_errors(self.spec.model, len(rows)):
            ct2_setup.seed_sampling(settings)
            for group in groups:
                start = [self.tokenizer.convert_ids_to_tokens(prompts[i]) for i in group]
                results = self.generator.generate_batch(start, **options)
                for i, result in zip(group, results, strict=True):
                    tokens[i] = result.sequences[0]
        return [self._reply(self.tokenizer.convert_tokens_to_ids(row), text, lang, max_new)
                for row, (text, lang, _) in zip(tokens, rows, strict=True)]

    def generation_options(self, settings: GenerationSettings, max_new_tokens: int) -> dict[str, Any]:
        """generate_batch options for one call, mirroring the transformers chat backend's."""
        return {
            **ct2_setup.search_options(settings),
            "batch_type": "tokens",
            "max_batch_size": self.max_batch_tokens,
            "max_length": max_new_tokens,
            "min_length": min(settings.min_new_tokens, max_new_tokens),
            "end_token": list(self._stop_tokens),
            "return_end_token": True,  # _reply tells a finished reply from a cut-off one
            "include_prompt_in_result": False,
        }


# ---------------------------------------------------------------------- module helpers


def chat_architecture(spec: ModelSpec) -> str:
    """The model_type in the spec's config.json; ModelLoadError when it is not supported."""
    path = ct2_convert.model_config_file(spec)
    try:
        model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelLoadError(f"{spec.model}: cannot read {path}: {exc}") from None
    if model_type not in CT2_CHAT_ARCHITECTURES:
        known = ", ".join(CT2_CHAT_ARCHITECTURES)
        raise ModelLoadError(
            f"{spec.model}: backend ctranslate2 runs family chat for the architectures "
            f"{known}; this model is {model_type or 'of an unknown architecture'}. "
            f"Use backend: transformers for it."
        )
    return str(model_type)


def _generation_ids(ready: ct2_setup.Prepared, config: Any) -> dict[str, Any]:
    """The model's generation config (token ids are all that is read from it)."""
    from transformers import GenerationConfig

    try:
        return dict(GenerationConfig.from_pretrained(str(ready.source.path)).to_dict())
    except OSError:  # no generation_config.json: v5 derives it from config.json
        return dict(GenerationConfig.from_model_config(config).to_dict())
