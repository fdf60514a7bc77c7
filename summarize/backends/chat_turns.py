"""What every chat backend shares, whatever runs the forward passes (transformers, CTranslate2).

- the prompt: each text is one user turn (``summarize.backends.prompts``, in the spec's prompt style),
  rendered by the model's own chat template with the generation prompt, reasoning off
  (``enable_thinking=False``) where the template has that switch, control tokens quoted in an
  article kept as text where the tokenizer can do it;
- reasoning: a template that opens a ``<think>`` block itself (Qwen3 ``*-Thinking-2507``) is
  found at load by rendering a probe turn; the prompt then ends in a closed, empty block, so
  the reply is the answer, or the model is refused when that cannot be done soundly;
- the clock: the template sees ``prompts.PROMPT_DATE`` as today (``date_string`` and its own
  ``strftime_now``), so a template that writes the date gives the same prompt on any day;
- the stops: the tokenizer's eos, the model's eos ids and the template's end-of-turn token;
- the limits: the context less the spec's ``max_new_tokens``; each row's new-token budget
  scaled to its bare text, capped by the room its prompt leaves in the context, and one call
  per budget group, so a reply never depends on its batch neighbours;
- the replies: cleaned (``replies.clean_reply``); one still not what was asked for is asked
  again once with the plain prompt, in one more call for all such rows; ``last_flags`` lists
  ``(index, problem)`` per call for every reply that needed the retry or was cut off.

A backend subclasses ``ChatTurns`` and implements ``_generate(rows, settings, max_new)``: ONE
batched call for (text, target, plain prompt) rows that share the budget ``max_new``, returning
``_reply()`` of each row's new token ids.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from summarize.backends import prompts, replies
from summarize.backends.base import budget_groups, with_flag
from summarize.backends.limits import refuse_too_long
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError

# End-of-turn markers of the common chat formats (ChatML, Gemma, Llama 3, Phi-3, Mistral).
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|eom_id|>",
                      "</s>")
TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# What Qwen3's template writes with enable_thinking false: the block a reply starts after.
EMPTY_THINKING = f"\n\n{THINK_CLOSE}\n\n"
PROBE = "Probe sentence."

Row = tuple[str, str | None, bool]  # (text, target language or None, plain prompt)


@dataclass(frozen=True)
class _Reply:
    text: str
    problem: str | None
    cut_off: bool
    flag: str | None = None  # what is still wrong after the retry (the output's QA flag)


class ChatTurns:
    """Prompts, limits, replies and the retry of a chat backend; see the module notes."""

    multi_target = True  # generate_multi: every target language of a batch in one call

    spec: ModelSpec
    tokenizer: Any
    stop_ids: list[int]
    last_flags: list[tuple[int, str]]

    def _init_turns(self, spec: ModelSpec, tokenizer: Any, stop_ids: list[int],
                    context: int) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.last_flags = []
        template = tokenizer.get_chat_template()
        self._style: prompts.Style = getattr(spec, "prompt", prompts.DEFAULT_STYLE)
        self._template_kwargs: dict[str, Any] = (
            {"enable_thinking": False} if "enable_thinking" in template else {}
        )
        # Llama 3.x templates print date_string, or strftime_now(...) when it is not given.
        self._template_kwargs["date_string"] = prompts.PROMPT_DATE_STRING
        self._clock = "strftime_now" in template or "date_string" in template
        self._chat_template = fixed_clock(template) if "strftime_now" in template else None
        params = inspect.signature(tokenizer.apply_chat_template).parameters
        self._sanitize = "sanitize_control_tokens" in params
        self._thinking, self._close_thinking = self._probe_thinking(spec)
        self._context = context
        room = spec.generation.max_new_tokens
        self._limit = spec.max_input_tokens or context - room
        if self._limit < 1:
            raise ModelLoadError(
                f"{spec.model}: a context of {context} tokens leaves no room for the input "
                f"after max_new_tokens {room}; lower max_new_tokens"
            )

    def _generate(self, rows: list[Row], settings: GenerationSettings, max_new: int
                  ) -> list[_Reply]:
        raise NotImplementedError

    # ------------------------------------------------------------------ Backend protocol

    def prompt_info(self) -> dict[str, Any]:
        """The manifest fields about prompts, limits and stops, the same for every chat backend."""
        return {
            "family": "chat",
            "max_input_tokens": self._limit,
            "context_tokens": self._context,
            "prompt_version": prompts.PROMPT_VERSION,
            "prompt_style": self._style,
            "prompt_fingerprint": self.prompt_fingerprint(),
            "stop_tokens": self.tokenizer.convert_ids_to_tokens(self.stop_ids),
            "thinking": self._thinking,
            "prompt_date": prompts.PROMPT_DATE_STRING if self._clock else None,
            "control_tokens_sanitized": self._sanitize,
        }

    def prompt_fingerprint(self) -> str:
        """The prompts' fingerprint (texts, style, date, cleaner) with how this template's
        reasoning block is handled: what keys the memory besides the model itself."""
        if self._close_thinking is None:
            return prompts.prompt_fingerprint(self._style)
        return prompts.fingerprint_with(prompts.prompt_fingerprint(self._style),
                                        {"thinking": self._thinking})

    def max_input_tokens(self) -> int:
        """Longest templated prompt in tokens: the context less the spec's max_new_tokens."""
        return self._limit

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Length of each text's templated prompt, exactly as generate_batch encodes it."""
        if not texts:
            return []
        encoded = self._encode([(text, target_lang, False) for text in texts], tensors=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One batched call (plus one for replies asked again); in order."""
        self.last_flags = []
        if not texts:
            return []
        rows = [(text, target_lang) for text in texts]
        replies = self._answer(rows, settings, list(range(len(texts))))
        return [with_flag(reply.text, reply.flag) for reply in replies]

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """Every target language of a batch in one call: one row per text and language.
        ``last_flags`` indexes ``texts`` and names the language in the problem."""
        self.last_flags = []
        if not texts:
            return {lang: [] for lang in target_langs}
        rows: list[tuple[str, str | None]] = [(t, lang) for lang in target_langs for t in texts]
        index = [i for _ in target_langs for i in range(len(texts))]
        replies = self._answer(rows, settings, index)
        n = len(texts)
        return {lang: [with_flag(r.text, r.flag) for r in replies[k * n:(k + 1) * n]]
                for k, lang in enumerate(target_langs)}

    # ------------------------------------------------------------------ replies

    def _answer(
        self, rows: list[tuple[str, str | None]], settings: GenerationSettings, index: list[int]
    ) -> list[_Reply]:
        """Replies for (text, target) rows; bad ones asked again once with the plain prompt."""
        replies = self._by_budget([(text, lang, False) for text, lang in rows], settings)
        bad = [k for k, reply in enumerate(replies) if reply.problem is not None]
        if bad:
            again = self._by_budget([(*rows[k], True) for k in bad], settings)
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
                    replies[k] = replace(replies[k], flag=note)
                self.last_flags.append((index[k], self._tag(rows[k][1], note)))
        for k, reply in enumerate(replies):
            if reply.cut_off:
                cut = "the reply was cut off at the max_new_tokens budget"
                replies[k] = replace(reply, flag=f"{reply.flag}; {cut}" if reply.flag else cut)
                self.last_flags.append((index[k], self._tag(rows[k][1], cut)))
        self.last_flags.sort(key=lambda flag: flag[0])
        return replies

    @staticmethod
    def _tag(lang: str | None, problem: str) -> str:
        return f"{lang or 'en'}: {problem}"

    def _reply(self, ids: list[int], source: str, lang: str | None, max_new: int) -> _Reply:
        """The cleaned reply in a row's new token ids, which end at the first stop token."""
        stops = set(self.stop_ids)
        end = next((i for i, token in enumerate(ids) if token in stops), None)
        raw = self.tokenizer.decode(
            ids[:end], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        text, problem = replies.clean_reply(raw, prompts.task_of(lang), lang, source=source)
        return _Reply(text, problem, cut_off=end is None and len(ids) >= max_new)

    # ------------------------------------------------------------------ prompts and budgets

    def _encode(self, rows: list[Row], *, tensors: bool) -> Any:
        """The chat template's token ids per row; left-padded torch tensors if ``tensors``."""
        conversations = [prompts.messages(text, lang, plain=plain, style=self._style)
                         for text, lang, plain in rows]
        if self._close_thinking is None:
            return self._render(conversations, tensors=tensors)
        # The template ends the prompt in an open <think>: cut after it, close it empty.
        ids = [self._closed(row) for row in self._render(conversations, tensors=False)["input_ids"]]
        if not tensors:
            return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}
        return self.tokenizer.pad({"input_ids": ids}, padding="longest", return_tensors="pt")

    def _render(self, conversations: list[list[dict[str, str]]], *, tensors: bool,
                sanitize: bool = True) -> Any:
        extra: dict[str, Any] = dict(self._template_kwargs)
        if self._sanitize and sanitize:
            # An article quoting "<|im_end|>" must not end the user turn.
            extra["sanitize_control_tokens"] = True
        if self._chat_template is not None:
            extra["chat_template"] = self._chat_template
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

    def _closed(self, ids: list[int]) -> list[int]:
        open_id = self.tokenizer.convert_tokens_to_ids(THINK_OPEN)
        last = len(ids) - 1 - ids[::-1].index(open_id)
        return list(ids[:last + 1]) + list(self._close_thinking or [])

    def _probe_thinking(self, spec: ModelSpec) -> tuple[str, list[int] | None]:
        """How the template treats reasoning, from a rendered probe turn: (what the manifest
        says, the ids that close a block the template opens itself, or None)."""
        switch = "off" if "enable_thinking" in self._template_kwargs else "not in template"
        ids = list(self._render([[{"role": "user", "content": PROBE}]], tensors=False,
                                sanitize=False)["input_ids"][0])
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        tail = text.rsplit(PROBE, 1)[-1]
        opened = tail.rfind(THINK_OPEN)
        if opened < 0 or tail.rfind(THINK_CLOSE) > opened:
            return switch, None
        vocab = self.tokenizer.get_vocab()
        open_id, close_id = vocab.get(THINK_OPEN), vocab.get(THINK_CLOSE)
        why = None
        if open_id is None or close_id is None or open_id not in ids:
            why = f"its tokenizer has no {THINK_OPEN} and {THINK_CLOSE} tokens to close it with"
        else:
            last = len(ids) - 1 - ids[::-1].index(open_id)
            after = self.tokenizer.decode(ids[last + 1:], skip_special_tokens=False)
            if after.strip():
                why = f"the template writes {after.strip()[:40]!r} after it"
        if why is not None:
            raise ModelLoadError(
                f"{spec.model}: its chat template always opens a reasoning block "
                f"({THINK_OPEN}) at the start of the reply, and {why}; its reasoning would "
                f"become the output. Use the model's instruct (non-thinking) variant."
            )
        close = self.tokenizer(EMPTY_THINKING, add_special_tokens=False)["input_ids"]
        if close_id not in close:
            raise ModelLoadError(f"{spec.model}: {THINK_CLOSE} is not one token of its tokenizer; "
                                 f"the reasoning block its template opens cannot be closed")
        return f"closed (the template opens {THINK_OPEN}; the prompt closes it empty)", close

    def _by_budget(self, rows: list[Row], settings: GenerationSettings) -> list[_Reply]:
        """Replies for the rows, one ``_generate`` call per budget group (budget_groups): each
        row's budget is its own, so its reply never depends on its batch neighbours."""
        replies: list[_Reply | None] = [None] * len(rows)
        for budget, idx in budget_groups(self._row_budgets(rows, settings)):
            for i, reply in zip(idx, self._generate([rows[i] for i in idx], settings, budget),
                                strict=True):
                replies[i] = reply
        return [reply for reply in replies if reply is not None]

    def _row_budgets(self, rows: list[Row], settings: GenerationSettings,
                     lengths: list[int] | None = None) -> list[int]:
        """max_new_tokens of each row: prompts over the limit refused; the budget scaled to the
        bare text and capped by the room the row's own prompt leaves in the context.
        ``lengths``: the prompts' token counts, when the caller has encoded them already."""
        if lengths is None:
            lengths = [len(ids) for ids in self._encode(rows, tensors=False)["input_ids"]]
        refuse_too_long(lengths, self._limit, self.spec.model, "prompt")
        sources = self._source_lengths([text for text, _, _ in rows])
        return [min(settings.budget(n), self._context - length)
                for n, length in zip(sources, lengths, strict=True)]

    def budget_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each bare text, which its new-token budget is scaled to (not the prompt)."""
        return self._source_lengths(list(texts))

    def _source_lengths(self, texts: list[str]) -> list[int]:
        """Tokens of each bare text: what the new-token budget is scaled to."""
        encoded = self.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]


# ---------------------------------------------------------------------- loading helpers


def prepare_tokenizer(spec: ModelSpec, tokenizer: Any, generation: dict[str, Any],
                      config: Any) -> tuple[list[int], dict[str, Any]]:
    """(stop ids, bos/eos/pad ids) of a chat model; the tokenizer set to pad on the left.

    Ids come from the generation config, else the model config. ModelLoadError for a model
    without a chat template or without any eos.
    """
    if not has_chat_template(tokenizer):
        raise ModelLoadError(
            f"{spec.model} has no chat template: family chat needs an instruction-tuned "
            f"model whose tokenizer files hold one (chat_template.jinja or "
            f"tokenizer_config.json)"
        )
    ids = {name: generation.get(name) for name in TOKEN_ID_FIELDS}
    for name in TOKEN_ID_FIELDS:
        if ids[name] is None:
            ids[name] = getattr(config, name, None)
    stops = stop_ids(tokenizer, ids["eos_token_id"])
    if not stops:
        raise ModelLoadError(f"{spec.model}: neither the tokenizer nor the model names an eos")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(stops[0])
    tokenizer.padding_side = "left"
    return stops, ids


def fixed_clock(template: str) -> str:
    """``template`` with its own ``strftime_now`` giving ``prompts.PROMPT_DATE`` in any format:
    a macro of the same name, defined first, shadows the one transformers provides."""
    date = prompts.PROMPT_DATE
    codes = {f"%{c}": date.strftime(f"%{c}") for c in "aAbBdHIjmMpSyYwUWZzcxXGuV"}
    codes.update({"%-d": str(date.day), "%-m": str(date.month), "%-H": str(date.hour),
                  "%-I": str(date.hour % 12 or 12), "%-M": str(date.minute),
                  "%-S": str(date.second), "%e": f"{date.day:2d}",
                  "%-j": str(date.timetuple().tm_yday)})
    # Longest codes first ("%-d" before "%d"); "%%" kept aside as a NUL meanwhile.
    chain = "".join(f" | replace({json.dumps(code)}, {json.dumps(value)})"
                    for code, value in sorted(codes.items(), key=lambda kv: -len(kv[0])))
    macro = ("{%- macro strftime_now(format) -%}"
             "{{- format | replace('%%', '\\x00')" + chain + " | replace('\\x00', '%') -}}"
             "{%- endmacro %}\n")
    return macro + template


def has_chat_template(tokenizer: Any) -> bool:
    try:
        return bool(tokenizer.get_chat_template())
    except ValueError:  # transformers raises when the tokenizer has none
        return False


def stop_ids(tokenizer: Any, model_eos: Any) -> list[int]:
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


def text_config(config: Any) -> Any:
    """The language model's config: a multimodal checkpoint (Gemma 3 4B-27B) keeps its context
    length and layers in ``text_config``."""
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config
