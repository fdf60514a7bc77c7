"""Tiny offline chat models: random weights, real decoder-only classes, real chat templates.

``build_tiny_chat_models(out)`` writes one folder per model with ``save_pretrained`` (weights,
tokenizer, chat template, generation config), so tests load them through the same
``from_pretrained`` code as a hub model. Each mimics its hub family where the backend must
cope with a difference:

| folder       | class              | template                       | eos the tokenizer names |
|--------------|--------------------|--------------------------------|-------------------------|
| chat-qwen2   | Qwen2ForCausalLM   | ChatML, default system message | ``<|endoftext|>``       |
| chat-qwen3   | Qwen3ForCausalLM   | ChatML + ``enable_thinking``    | ``<|im_end|>``          |
| chat-llama   | LlamaForCausalLM   | Llama 3 headers, BOS in text   | ``<|end_of_text|>``     |
| chat-gemma2  | Gemma2ForCausalLM  | Gemma turns, no system role    | ``<eos>``               |
| chat-gemma3  | Gemma3ForConditionalGeneration (``Gemma3Config``: text + a tiny vision tower) | Gemma turns, system folded into the first user turn, text parts of a content list | ``<eos>``; the generation config adds ``<end_of_turn>`` |
| chat-qwen3-thinking | Qwen3ForCausalLM | ChatML; the generation prompt always opens ``<think>`` (as the Qwen3 ``*-Thinking-2507`` templates) | ``<|im_end|>`` |

``chat-gemma3`` has the layout of the 4B-27B Gemma 3 checkpoints (google/gemma-3-12b-it is one):
a multimodal config that ``AutoModelForCausalLM`` loads as ``Gemma3ForConditionalGeneration``
in transformers 5, with the context length in ``text_config``, sliding and full attention
layers, and the image tokens in its vocabulary. Three of them name an eos that is not their end-of-turn token (as the Qwen2.5 base
tokenizer, the first Llama-3-Instruct and Gemma-it releases did), so the backend has to find
the end of turn itself. Their generation configs hold sampling defaults like the hub's, which
must have no effect. The templates are written here, after the published formats.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from summarize.tiny.corpus import EN_LINES, KO_LINES, ZH_LINES, train_bpe

CHAT_MAX_POSITIONS = 1024
_LINES = EN_LINES + KO_LINES + ZH_LINES
_VOCAB = 800
_ARCH: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "max_position_embeddings": CHAT_MAX_POSITIONS,
    "tie_word_embeddings": False,
}

# Literal newlines sit inside Jinja strings, where whitespace control cannot eat them.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Qwen3's switch: with enable_thinking false the template writes an empty reasoning block, so
# the model answers at once.
QWEN3_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)
# Qwen3 *-Thinking-2507: no switch, the reply always starts inside a reasoning block.
QWEN3_THINKING_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
)
# The Llama 3 turns and the assistant header, shared by the Llama-style templates below.
LLAMA3_TURNS = (
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{{- message['content'] | trim }}{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)
LLAMA3_TEMPLATE = "{{- bos_token }}" + LLAMA3_TURNS
# Llama 3.2: a system turn with the knowledge cut-off and today's date, from date_string when
# the caller passes one, else the clock (strftime_now).
LLAMA32_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if not date_string is defined %}"
    "{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}"
    "{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}"
    "{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\n' }}"
    "{{- 'Today Date: ' + date_string + '\\n\\n<|eot_id|>' }}"
    + LLAMA3_TURNS
)
# A template that reads the clock itself, as Mistral Small 3.x ones do: no date_string.
CLOCK_TEMPLATE = (
    "{{- bos_token }}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nToday is ' + strftime_now('%A, %-d %B %Y') }}"
    "{{- '<|eot_id|>' }}"
    + LLAMA3_TURNS
)
GEMMA_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- raise_exception('System role not supported') }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{- '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)
# Gemma 3: a system message becomes the head of the first user turn; content may be a string
# or a list of parts (text, image).
GEMMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- set ns = namespace(prefix='', start=0) %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set ns.prefix = messages[0]['content'] + '\\n\\n' %}{%- set ns.start = 1 %}"
    "{%- endif %}"
    "{%- for message in messages[ns.start:] %}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{- '<start_of_turn>' + role + '\\n' + (ns.prefix if loop.first else '') }}"
    "{%- if message['content'] is string %}{{- message['content'] | trim }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'image' %}{{- '<start_of_image>' }}"
    "{%- elif part['type'] == 'text' %}{{- part['text'] | trim }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<end_of_turn>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)

# Sampling defaults like the hub's chat models ship; tests prove none of them leaks.
_HUB_SAMPLING = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                 "repetition_penalty": 1.05}

TINY_CHAT_MODELS: dict[str, str] = {
    "chat-qwen2": "qwen2",
    "chat-qwen3": "qwen3",
    "chat-llama": "llama",
    "chat-gemma2": "gemma2",
    "chat-gemma3": "gemma3",
}
# Built with the others, kept out of TINY_CHAT_MODELS (one model per architecture): the chat
# model whose template forces reasoning.
THINKING_CHAT_MODEL = "chat-qwen3-thinking"


def build_tiny_chat_models(out_dir: Path, *, seed: int = 0) -> dict[str, Path]:
    """Build every tiny chat model under ``out_dir``; folder name -> path."""
    import torch
    from transformers.utils import logging as hf_logging

    builders: dict[str, Callable[[Path], None]] = {
        "chat-qwen2": _build_qwen2,
        "chat-qwen3": _build_qwen3,
        "chat-llama": _build_llama,
        "chat-gemma2": _build_gemma2,
        "chat-gemma3": _build_gemma3,
        THINKING_CHAT_MODEL: _build_qwen3_thinking,
    }
    out = {}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        for offset, (name, build) in enumerate(builders.items()):
            target = Path(out_dir).resolve() / name
            if target.exists():
                shutil.rmtree(target)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + offset)
                build(target)
            out[name] = target
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return out


def _special(tokenizer: Any, tokens: list[str]) -> None:
    """Register tokens that are already in the vocab as special (never split, never decoded)."""
    tokenizer.add_special_tokens({"additional_special_tokens": tokens})


def _ids(tokenizer: Any) -> Callable[[str], int]:
    """Token -> id, for tokens that are in the vocab."""
    return lambda token: int(tokenizer.convert_tokens_to_ids(token))


def _save(model: Any, tokenizer: Any, template: str, generation: dict[str, Any],
          folder: Path) -> None:
    from transformers import GenerationConfig

    tokenizer.chat_template = template
    model.generation_config = GenerationConfig(**generation)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _qwen_tokenizer(extra: list[str], eos: str) -> Any:
    from transformers import Qwen2Tokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab, merges = train_bpe(_LINES, _VOCAB, specials + extra, byte_level=True)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, eos_token=eos, pad_token="<|endoftext|>",
        model_max_length=CHAT_MAX_POSITIONS,
    )
    _special(tokenizer, specials[1:])
    if extra:  # Qwen3's <think> tags are added tokens but not special: decode keeps them
        tokenizer.add_tokens(extra)
    return tokenizer


def _build_qwen2(folder: Path) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = _qwen_tokenizer([], eos="<|endoftext|>")
    ids = _ids(tokenizer)
    config = Qwen2Config(vocab_size=len(tokenizer), bos_token_id=None,
                         eos_token_id=ids("<|endoftext|>"), pad_token_id=ids("<|endoftext|>"),
                         **_ARCH)
    model = Qwen2ForCausalLM(config).eval()
    generation = {"eos_token_id": [ids("<|im_end|>"), ids("<|endoftext|>")],
                  "pad_token_id": ids("<|endoftext|>"), **_HUB_SAMPLING}
    _save(model, tokenizer, CHATML_TEMPLATE, generation, folder)


def _build_qwen3(folder: Path) -> None:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer(["<think>", "</think>"], eos="<|im_end|>")
    ids = _ids(tokenizer)
    config = Qwen3Config(vocab_size=len(tokenizer), bos_token_id=None,
                         eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
                         **_ARCH)
    model = Qwen3ForCausalLM(config).eval()
    generation = {"eos_token_id": [ids("<|im_end|>"), ids("<|endoftext|>")],
                  "pad_token_id": ids("<|endoftext|>"), **_HUB_SAMPLING, "temperature": 0.6}
    _save(model, tokenizer, QWEN3_TEMPLATE, generation, folder)


def _build_qwen3_thinking(folder: Path) -> None:
    _build_qwen3(folder)
    (folder / "chat_template.jinja").write_text(QWEN3_THINKING_TEMPLATE, encoding="utf-8")


def _build_llama(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>"]
    vocab, merges = train_bpe(_LINES, _VOCAB, specials, byte_level=True)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
        model_max_length=CHAT_MAX_POSITIONS,
    )
    _special(tokenizer, specials[2:])
    ids = _ids(tokenizer)
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=ids("<|begin_of_text|>"),
                         eos_token_id=ids("<|end_of_text|>"), pad_token_id=None, **_ARCH)
    model = LlamaForCausalLM(config).eval()
    # Like the first Meta-Llama-3-8B-Instruct upload: eos is <|end_of_text|> only.
    generation = {"bos_token_id": ids("<|begin_of_text|>"), "eos_token_id": ids("<|end_of_text|>"),
                  **_HUB_SAMPLING, "temperature": 0.6, "top_p": 0.9}
    _save(model, tokenizer, LLAMA3_TEMPLATE, generation, folder)


def _build_gemma2(folder: Path) -> None:
    from transformers import Gemma2Config, Gemma2ForCausalLM, GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    vocab, merges = train_bpe(_LINES, _VOCAB, specials, byte_level=False)
    vocab.setdefault("\n", len(vocab))  # a piece of its own in Gemma's vocab, as the turns need it
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, model_max_length=CHAT_MAX_POSITIONS)
    _special(tokenizer, specials[5:])
    ids = _ids(tokenizer)
    config = Gemma2Config(vocab_size=len(tokenizer), bos_token_id=ids("<bos>"),
                          eos_token_id=ids("<eos>"), pad_token_id=ids("<pad>"),
                          sliding_window=CHAT_MAX_POSITIONS // 2, query_pre_attn_scalar=16,
                          **_ARCH)
    model = Gemma2ForCausalLM(config).eval()
    # Like the first gemma-*-it uploads: eos is <eos> only, not <end_of_turn>.
    generation = {"bos_token_id": ids("<bos>"), "eos_token_id": ids("<eos>"),
                  "pad_token_id": ids("<pad>"), **_HUB_SAMPLING}
    _save(model, tokenizer, GEMMA_TEMPLATE, generation, folder)


def _build_gemma3(folder: Path) -> None:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        GemmaTokenizer,
        SiglipVisionConfig,
    )

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
                "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    vocab, merges = train_bpe(_LINES, _VOCAB, specials, byte_level=False)
    vocab.setdefault("\n", len(vocab))
    # No model_max_length, as the hub's Gemma 3 tokenizers: the context is in text_config only.
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges)
    _special(tokenizer, specials[5:])
    ids = _ids(tokenizer)
    text = Gemma3TextConfig(
        vocab_size=len(tokenizer), bos_token_id=ids("<bos>"), eos_token_id=ids("<eos>"),
        pad_token_id=ids("<pad>"), sliding_window=CHAT_MAX_POSITIONS // 2,
        query_pre_attn_scalar=16, **{**_ARCH, "num_hidden_layers": 2, "tie_word_embeddings": True},
        layer_types=["sliding_attention", "full_attention"],
    )
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, image_size=28, patch_size=14)
    config = Gemma3Config(
        text_config=text, vision_config=vision, mm_tokens_per_image=1,
        boi_token_index=ids("<start_of_image>"), eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"), tie_word_embeddings=True,
    )
    model = Gemma3ForConditionalGeneration(config).eval()
    generation = {"bos_token_id": ids("<bos>"),
                  "eos_token_id": [ids("<eos>"), ids("<end_of_turn>")],
                  "pad_token_id": ids("<pad>"), "do_sample": True, "top_k": 64, "top_p": 0.95}
    _save(model, tokenizer, GEMMA3_TEMPLATE, generation, folder)


def chat_config(out_dir: Path, name: str = "chat-qwen2") -> dict[str, Any]:
    """A run config (as a dict) using the tiny chat model ``name`` for every task."""
    folder = str(Path(out_dir).resolve() / name)
    summary = {"num_beams": 1, "max_new_tokens": 24, "max_new_tokens_ratio": None,
               "max_new_tokens_extra": 0, "min_new_tokens": 0, "no_repeat_ngram_size": 3}
    translate = {"num_beams": 1, "max_new_tokens": 96, "max_new_tokens_ratio": 0.25,
                 "max_new_tokens_extra": 4, "min_new_tokens": 0, "repetition_penalty": 1.3}
    return {
        "languages": ["ko", "zh-Hans"],
        "summarizer": {"model": folder, "family": "chat", "generation": summary},
        "translators": {
            lang: {"model": folder, "family": "chat", "generation": dict(translate)}
            for lang in ("ko", "zh-Hans")
        },
        "batch": {"max_batch_tokens": 4096, "max_batch_size": 16, "window_articles": 16},
        "model_check": False,
    }
