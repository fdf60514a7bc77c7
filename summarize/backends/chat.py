"""The chat backend: instruction-tuned decoder-only models (Qwen, Llama, Gemma) via transformers.

Prompts, stops, limits, the reply cleaner and the one retry are ``chat_turns.ChatTurns``'s,
shared with the CTranslate2 chat backend (``ct2_chat``). Here the templated prompts are
left-padded and sent to ONE ``generate()`` call per batch; only the generated part is decoded.

Settings mean what they mean for the seq2seq backends:

- every GenerationSettings field is passed on each call; ``model.generation_config`` is
  replaced on load by one holding only token ids, so hub sampling defaults never apply;
- ``repetition_penalty`` and ``no_repeat_ngram_size`` look at the generated tokens only.
  transformers applies them to the whole sequence of a decoder-only model, prompt included,
  which would stop a summary from reusing the article's words or a translation from copying
  a name or a ``[0]`` placeholder; so the config holds the neutral values and two logits
  processors apply the configured ones to the reply.

A multimodal checkpoint (Gemma 3 4B-27B: ``Gemma3Config``) loads through
``AutoModelForCausalLM`` as ``Gemma3ForConditionalGeneration`` in transformers 5 and is given
text only; its context length is read from its ``text_config``.
"""

from __future__ import annotations

from typing import Any

from summarize.backends.chat_turns import ChatTurns, Row, _Reply, prepare_tokenizer, text_config
from summarize.backends.hf_load import (
    Source,
    build_model,
    cuda_stats,
    device_errors,
    load_pretrained,
    provenance,
    seed_sampling,
    transformers_info,
)
from summarize.backends.limits import model_input_limit
from summarize.config import GenerationSettings, ModelSpec


class ChatBackend(ChatTurns):
    """An instruction-tuned causal LM; implements ``base.Backend`` with prompts."""

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        model: Any,
        *,
        device: Any,
        source: Source,
        stop_ids: list[int],
    ) -> None:
        self.model = model
        self.device = device
        self._source = source
        self.pad_token_id: int = tokenizer.pad_token_id
        self._init_turns(spec, tokenizer, stop_ids,
                         model_input_limit(text_config(model.config), tokenizer))
        self._resolved_revision, self._local_path, self._content_hash = provenance(source)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> ChatBackend:
        """Load tokenizer and causal LM from a hub id (at ``spec.revision``) or a local folder;
        ``weights=False``: a tokenizer-only view (see hf.load_pretrained)."""
        from transformers import GenerationConfig

        source, tokenizer, model, torch_device = load_pretrained(
            spec, device, dtype, _load_causal_lm, weights=weights)
        stop_ids, ids = prepare_tokenizer(spec, tokenizer, model.generation_config.to_dict(),
                                          model.config)
        model.generation_config = GenerationConfig(
            bos_token_id=ids["bos_token_id"], eos_token_id=stop_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
        return cls(spec, tokenizer, model, device=torch_device, source=source, stop_ids=stop_ids)

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry for this model, with the prompt version and fingerprint."""
        return {
            **transformers_info(self),
            "architecture": getattr(self.model.config, "model_type", None),
            **self.prompt_info(),
        }

    def device_stats(self, reset: bool = True) -> dict[str, Any] | None:
        """Peak CUDA memory of this model's device since the last reset."""
        if self.device.type != "cuda":
            return None
        return cuda_stats(self.device, reset=reset)

    # ------------------------------------------------------------------ generation

    def _generate(self, rows: list[Row], settings: GenerationSettings, max_new: int
                  ) -> list[_Reply]:
        """ONE generate() call for (text, target, plain prompt) rows of one budget; cleaned
        replies."""
        import torch

        encoded = self._encode(rows, tensors=True)
        width = int(encoded["input_ids"].shape[1])
        config = self.generation_config(settings, max_new)
        with self._device_errors(len(rows), width), torch.inference_mode():
            self._seed(settings)
            output = self.model.generate(
                input_ids=encoded["input_ids"].to(self.device),
                attention_mask=encoded["attention_mask"].to(self.device),
                generation_config=config,
                logits_processor=reply_only_processors(settings, width),
            )
        return [self._reply(ids, text, lang, max_new)
                for ids, (text, lang, _) in zip(output[:, width:].tolist(), rows, strict=True)]

    def generation_config(self, settings: GenerationSettings, max_new_tokens: int) -> Any:
        """The complete GenerationConfig for one call; nothing comes from the model's own.

        repetition_penalty and no_repeat_ngram_size are neutral here: ``reply_only_processors``
        applies them to the generated tokens only.
        """
        from transformers import GenerationConfig

        beam = settings.num_beams > 1
        sample = settings.do_sample
        return GenerationConfig(
            do_sample=sample,
            temperature=settings.temperature if sample else 1.0,
            top_k=settings.top_k if sample else None,
            top_p=settings.top_p if sample else 1.0,
            min_p=None,
            typical_p=1.0,
            num_beams=settings.num_beams,
            num_return_sequences=1,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(settings.min_new_tokens, max_new_tokens),
            length_penalty=settings.length_penalty if beam else 1.0,
            early_stopping=settings.early_stopping if beam else False,
            no_repeat_ngram_size=0,
            repetition_penalty=1.0,
            bad_words_ids=None,
            suppress_tokens=None,
            begin_suppress_tokens=None,
            forced_bos_token_id=None,
            forced_eos_token_id=None,
            stop_strings=None,
            use_cache=True,
            bos_token_id=self.model.generation_config.bos_token_id,
            eos_token_id=list(self.stop_ids),
            pad_token_id=self.pad_token_id,
        )

    def _device_errors(self, rows: int, longest: int) -> Any:
        return device_errors(self.spec.model, self.device,
                             f"{rows} rows ({longest} prompt tokens each, padded)")

    _seed = staticmethod(lambda settings: seed_sampling(settings))


# ---------------------------------------------------------------------- module helpers


def _load_causal_lm(name: str, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    return build_model(AutoModelForCausalLM, name, **kwargs)


def reply_only_processors(settings: GenerationSettings, prompt_width: int) -> Any:
    """repetition_penalty and no_repeat_ngram_size on the tokens after ``prompt_width``.

    Left padding puts every row's prompt in the first ``prompt_width`` positions, so one
    width serves the whole batch (beams and sampled rows alike).
    """
    from transformers import (
        LogitsProcessor,
        LogitsProcessorList,
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
    )

    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(
            float(settings.repetition_penalty), prompt_ignore_length=prompt_width))
    if settings.no_repeat_ngram_size > 0:

        class ReplyNoRepeatNGram(LogitsProcessor):  # type: ignore[misc]
            def __init__(self, size: int, start: int) -> None:
                self.inner = NoRepeatNGramLogitsProcessor(size)
                self.start = start

            def __call__(self, input_ids: Any, scores: Any) -> Any:
                return self.inner(input_ids[:, self.start:], scores)

        processors.append(ReplyNoRepeatNGram(settings.no_repeat_ngram_size, prompt_width))
    return processors
