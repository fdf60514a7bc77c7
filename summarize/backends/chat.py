"""The chat backend: instruction-tuned decoder-only models (Qwen, Llama, Gemma) via transformers.

Each text becomes one user turn (``summarize.prompts``), rendered by the model's own chat
template with the generation prompt, left-padded, and sent to ONE ``generate()`` call per
batch; only the generated part is decoded. Reasoning is switched off (``enable_thinking=False``)
for templates that have that switch (Qwen3).

Settings mean what they mean for the seq2seq backends:

- every GenerationSettings field is passed on each call; ``model.generation_config`` is
  replaced on load by one holding only token ids, so hub sampling defaults never apply;
- ``repetition_penalty`` and ``no_repeat_ngram_size`` look at the generated tokens only.
  transformers applies them to the whole sequence of a decoder-only model, prompt included,
  which would stop a summary from reusing the article's words or a translation from copying
  a name or a ``[0]`` placeholder; so the config holds the neutral values and two logits
  processors apply the configured ones to the reply;
- the new-token budget (``settings.budget``) is scaled to the text's own length, not to the
  templated prompt;
- generation stops at the tokenizer's eos, the model's eos ids and the template's
  end-of-turn token (``<|im_end|>``, ``<end_of_turn>``, ``<|eot_id|>``...) where the template
  writes it: several hub uploads name only ``<eos>``/``<|end_of_text|>``.

``max_input_tokens`` is the context (``max_position_embeddings``, or the tokenizer's limit if
lower) less room for the reply: the ``max_new_tokens`` of the spec the backend was loaded for.
Token counts are of the full templated prompt, exactly as generate() receives it.

Replies are cleaned (``prompts.clean_reply``). A reply that is still not what was asked for
(empty, a refusal, the wrong script) is asked again once, with the plain prompt, in one more
generate() call for all such rows. ``last_flags`` lists, per call, ``(index, problem)`` for
every reply that needed the retry or was cut off at the token budget.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from summarize import prompts
from summarize.backends.hf import (
    _model_input_limit,
    _provenance,
    _Source,
    build_model,
    cuda_stats,
    device_errors,
    load_pretrained,
    seed_sampling,
)
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError

# End-of-turn markers of the common chat formats (ChatML, Gemma, Llama 3, Phi-3, Mistral).
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|eom_id|>",
                      "</s>")
_TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id")


@dataclass(frozen=True)
class _Reply:
    text: str
    problem: str | None
    cut_off: bool


class ChatBackend:
    """An instruction-tuned causal LM; implements ``base.Backend`` with prompts."""

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        model: Any,
        *,
        device: Any,
        source: _Source,
        stop_ids: list[int],
    ) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self._source = source
        self.stop_ids = stop_ids
        self.pad_token_id: int = tokenizer.pad_token_id
        self.last_flags: list[tuple[int, str]] = []
        template = tokenizer.get_chat_template()
        self._template_kwargs: dict[str, Any] = (
            {"enable_thinking": False} if "enable_thinking" in template else {}
        )
        params = inspect.signature(tokenizer.apply_chat_template).parameters
        self._sanitize = "sanitize_control_tokens" in params
        self._context = _model_input_limit(model.config, tokenizer)
        room = spec.generation.max_new_tokens
        self._limit = spec.max_input_tokens or self._context - room
        if self._limit < 1:
            raise ModelLoadError(
                f"{spec.model}: a context of {self._context} tokens leaves no room for the input "
                f"after max_new_tokens {room}; lower max_new_tokens"
            )
        self._resolved_revision, self._local_path, self._content_hash = _provenance(source)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> ChatBackend:
        """Load tokenizer and causal LM from a hub id (at ``spec.revision``) or a local folder;
        ``weights=False``: a tokenizer-only view (see hf.load_pretrained)."""
        from transformers import GenerationConfig

        source, tokenizer, model, torch_device = load_pretrained(
            spec, device, dtype, _load_causal_lm, weights=weights)
        if not _has_chat_template(tokenizer):
            raise ModelLoadError(
                f"{spec.model} has no chat template: family chat needs an instruction-tuned "
                f"model whose tokenizer files hold one (chat_template.jinja or "
                f"tokenizer_config.json)"
            )
        generation = model.generation_config.to_dict()
        ids = {name: generation.get(name) for name in _TOKEN_ID_FIELDS}
        for name in _TOKEN_ID_FIELDS:
            if ids[name] is None:
                ids[name] = getattr(model.config, name, None)
        stop_ids = _stop_ids(tokenizer, ids["eos_token_id"])
        if not stop_ids:
            raise ModelLoadError(f"{spec.model}: neither the tokenizer nor the model names an eos")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.convert_ids_to_tokens(stop_ids[0])
        tokenizer.padding_side = "left"
        model.generation_config = GenerationConfig(
            bos_token_id=ids["bos_token_id"], eos_token_id=stop_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
        return cls(spec, tokenizer, model, device=torch_device, source=source, stop_ids=stop_ids)

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry for this model, with the prompt version and fingerprint."""
        return {
            "model": self.spec.model,
            "revision": self.spec.revision,
            "resolved_revision": self._resolved_revision,
            "local_path": self._local_path,
            "content_hash": self._content_hash,
            "backend": "transformers",
            "family": "chat",
            "architecture": getattr(self.model.config, "model_type", None),
            "device": str(self.device),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "attn_implementation": self.model.config._attn_implementation,
            "max_input_tokens": self._limit,
            "context_tokens": self._context,
            "prompt_version": prompts.PROMPT_VERSION,
            "prompt_fingerprint": prompts.PROMPT_FINGERPRINT,
            "stop_tokens": self.tokenizer.convert_ids_to_tokens(self.stop_ids),
            "thinking": "off" if self._template_kwargs else "not in template",
            "control_tokens_sanitized": self._sanitize,
        }

    def max_input_tokens(self) -> int:
        """Longest templated prompt in tokens: the context less the spec's max_new_tokens."""
        return self._limit

    def device_stats(self, reset: bool = True) -> dict[str, Any] | None:
        """Peak CUDA memory of this model's device since the last reset."""
        if self.device.type != "cuda":
            return None
        return cuda_stats(self.device, reset=reset)

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Length of each text's templated prompt, exactly as generate_batch encodes it."""
        if not texts:
            return []
        encoded = self._encode([(text, target_lang, False) for text in texts], tensors=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One generate() call for the batch (plus one for replies asked again); in order."""
        self.last_flags = []
        if not texts:
            return []
        rows = [(text, target_lang) for text in texts]
        return [reply.text for reply in self._answer(rows, settings, list(range(len(texts))))]

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """Every target language of a batch in one generate() call: one row per text and
        language. ``last_flags`` indexes ``texts`` and names the language in the problem."""
        self.last_flags = []
        if not texts:
            return {lang: [] for lang in target_langs}
        rows: list[tuple[str, str | None]] = [(t, lang) for lang in target_langs for t in texts]
        index = [i for _ in target_langs for i in range(len(texts))]
        replies = self._answer(rows, settings, index)
        n = len(texts)
        return {lang: [r.text for r in replies[k * n:(k + 1) * n]]
                for k, lang in enumerate(target_langs)}

    # ------------------------------------------------------------------ generation

    def _answer(
        self, rows: list[tuple[str, str | None]], settings: GenerationSettings, index: list[int]
    ) -> list[_Reply]:
        """Replies for (text, target) rows; bad ones asked again once with the plain prompt."""
        replies = self._generate([(text, lang, False) for text, lang in rows], settings)
        bad = [k for k, reply in enumerate(replies) if reply.problem is not None]
        if bad:
            again = self._generate([(*rows[k], True) for k in bad], settings)
            for k, retry in zip(bad, again, strict=True):
                first = replies[k]
                if retry.problem is None:
                    replies[k] = retry
                    note = f"asked again with the plain prompt after: {first.problem}"
                else:
                    if first.text.strip() == "":
                        replies[k] = retry
                    note = (f"{first.problem}; asked again with the plain prompt: "
                            f"{retry.problem}")
                self.last_flags.append((index[k], self._tag(rows[k][1], note)))
        for k, reply in enumerate(replies):
            if reply.cut_off:
                self.last_flags.append((index[k], self._tag(
                    rows[k][1], "the reply was cut off at the max_new_tokens budget")))
        self.last_flags.sort(key=lambda flag: flag[0])
        return replies

    @staticmethod
    def _tag(lang: str | None, problem: str) -> str:
        return f"{lang or 'en'}: {problem}"

    def _generate(
        self, rows: list[tuple[str, str | None, bool]], settings: GenerationSettings
    ) -> list[_Reply]:
        """ONE generate() call for (text, target, plain prompt) rows; cleaned replies."""
        import torch

        encoded = self._encode(rows, tensors=True)
        lengths = encoded["attention_mask"].sum(dim=1).tolist()
        too_long = [i for i, n in enumerate(lengths) if n > self._limit]
        if too_long:
            raise ValueError(
                f"{len(too_long)} prompt(s) longer than {self._limit} tokens for "
                f"{self.spec.model} (first: #{too_long[0]}, {lengths[too_long[0]]} tokens); "
                f"split them first"
            )
        width = int(encoded["input_ids"].shape[1])
        sources = self._source_lengths([text for text, _, _ in rows])
        max_new = min(max(settings.budget(n) for n in sources), self._context - width)
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

    def _reply(self, ids: list[int], source: str, lang: str | None, max_new: int) -> _Reply:
        stops = set(self.stop_ids)
        end = next((i for i, token in enumerate(ids) if token in stops), None)
        raw = self.tokenizer.decode(
            ids[:end], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        text, problem = prompts.clean_reply(raw, prompts.task_of(lang), lang, source=source)
        return _Reply(text, problem, cut_off=end is None and len(ids) >= max_new)

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

    def _encode(self, rows: list[tuple[str, str | None, bool]], *, tensors: bool) -> Any:
        conversations = [prompts.messages(text, lang, plain=plain) for text, lang, plain in rows]
        extra: dict[str, Any] = dict(self._template_kwargs)
        if self._sanitize:
            # An article quoting "<|im_end|>" must not end the user turn.
            extra["sanitize_control_tokens"] = True
        return self.tokenizer.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            padding="longest" if tensors else False,
            truncation=False,
            return_tensors="pt" if tensors else None,
            tokenizer_kwargs={"verbose": False},
            **extra,
        )

    def _source_lengths(self, texts: list[str]) -> list[int]:
        """Tokens of each bare text: what the new-token budget is scaled to."""
        encoded = self.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def _device_errors(self, rows: int, longest: int) -> Any:
        return device_errors(self.spec.model, self.device,
                             f"{rows} rows ({longest} prompt tokens each, padded)")

    _seed = staticmethod(lambda settings: seed_sampling(settings))


# ---------------------------------------------------------------------- module helpers


def _load_causal_lm(name: str, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    return build_model(AutoModelForCausalLM, name, **kwargs)


def _has_chat_template(tokenizer: Any) -> bool:
    try:
        return bool(tokenizer.get_chat_template())
    except ValueError:  # transformers raises when the tokenizer has none
        return False


def _stop_ids(tokenizer: Any, model_eos: Any) -> list[int]:
    """The tokenizer's eos, the model's eos ids, and end-of-turn tokens the template writes."""
    ids: list[int] = []
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    ids.extend(int(i) for i in (model_eos if isinstance(model_eos, list) else [model_eos])
               if i is not None)
    template = tokenizer.get_chat_template()
    vocab = tokenizer.get_vocab()
    ids.extend(vocab[token] for token in END_OF_TURN_TOKENS if token in vocab and token in template)
    return list(dict.fromkeys(ids))


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
