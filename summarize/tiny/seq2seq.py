"""Tiny seq2seq builders: BART (summariser), Marian, NLLB, M2M100, mBART-50.

Random weights say nothing, so two cheap tricks make the output look like the right language:
Random weights say nothing, so two cheap tricks make the output look like the right language:
- the BART summariser and the Marian model get a ``final_logits_bias`` that keeps only
  English (ASCII) pieces, resp. Han pieces (the tiny Marian always writes Chinese);
- the multilingual models (NLLB, M2M100, mBART-50) get token embeddings clustered by script,
  with each language code at its script's centre. As the residual stream of a tiny random
  decoder is dominated by the previous token's embedding, the forced language token leads to
  pieces of its script, and each piece to more of the same.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from summarize.tiny.corpus import (
    EN_LINES,
    KO_LINES,
    ZH_LINES,
    script_of,
    spm_pieces,
    token_scripts,
    train_bpe,
    train_spm,
)

SUMMARIZER_MAX_POSITIONS = 256
TRANSLATOR_MAX_POSITIONS = 128


_ARCH: dict[str, Any] = {
    "d_model": 16,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "encoder_layerdrop": 0.0,
    "decoder_layerdrop": 0.0,
}


def _keep_only(model: Any, keep: list[bool]) -> None:
    """Push every output token not in ``keep`` far down through ``final_logits_bias``."""
    import torch

    mask = torch.tensor(keep, dtype=torch.bool)
    bias = torch.zeros_like(model.final_logits_bias)
    bias[0, : mask.numel()][~mask] = -100.0
    model.final_logits_bias.copy_(bias)


def _cluster_embeddings(model: Any, tokenizer: Any, anchors: dict[str, str]) -> None:
    """Cluster the shared token embeddings by script; ``anchors`` maps script -> language token."""
    import torch

    emb = model.get_input_embeddings().weight
    n, dim = emb.shape
    scripts = token_scripts(tokenizer, n)
    new = 0.3 * torch.randn(n, dim)
    for script, lang_token in anchors.items():
        centre = torch.randn(dim)
        centre = 1.5 * centre / centre.norm() * dim**0.5
        for i, s in enumerate(scripts):
            if s == script:
                new[i] += centre
        new[tokenizer.convert_tokens_to_ids(lang_token)] = centre
    pad = model.config.pad_token_id
    if pad is not None:
        new[pad] = 0.0
    with torch.no_grad():
        emb.copy_(new)


# ---------------------------------------------------------------- the models


def _amplify_cross_attention(model: Any, factor: float) -> None:
    """Scale up cross-attention so that the output depends on the input, not only on the script."""
    import torch

    with torch.no_grad():
        for layer in model.model.decoder.layers:
            layer.encoder_attn.out_proj.weight.mul_(factor)


def _save(
    model: Any, tokenizer: Any, generation: dict[str, Any], folder: Path, *, cross: float = 300.0
) -> None:
    from transformers import GenerationConfig

    _amplify_cross_attention(model, cross)
    model.generation_config = GenerationConfig(**generation)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_bart(folder: Path) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab, merges = train_bpe(EN_LINES, 700, specials, byte_level=True)
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=SUMMARIZER_MAX_POSITIONS)
    config = BartConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=SUMMARIZER_MAX_POSITIONS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        scale_embedding=False,
        **_ARCH,
    )
    model = BartForConditionalGeneration(config).eval()
    pieces = [str(tokenizer.decode([i])) for i in range(len(tokenizer))]
    english = [
        piece.isascii() and (script_of(piece) == "latin" or piece.strip() in {".", ",", ""})
        for piece in pieces
    ]
    english[2] = True  # </s>
    _keep_only(model, english)
    # Mimics facebook/bart-large-cnn, so tests show none of it leaks into generate().
    generation = {
        "bos_token_id": 0,
        "decoder_start_token_id": 2,
        "eos_token_id": 2,
        "pad_token_id": 1,
        "forced_bos_token_id": 0,
        "forced_eos_token_id": 2,
        "num_beams": 4,
        "max_length": 142,
        "min_length": 56,
        "length_penalty": 2.0,
        "no_repeat_ngram_size": 3,
        "early_stopping": True,
    }
    _save(model, tokenizer, generation, folder, cross=1000.0)


def build_marian(folder: Path) -> None:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    source = train_spm(EN_LINES, 300)
    target = train_spm(KO_LINES + ZH_LINES, 400)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for token in (">>cmn_Hans<<", ">>kor<<", ">>jpn<<", ">>yue_Hant<<"):
        vocab[token] = len(vocab)
    for piece, _ in spm_pieces(source) + spm_pieces(target):
        vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / name for name in ("source.spm", "target.spm", "vocab.json")}
        paths["source.spm"].write_bytes(source)
        paths["target.spm"].write_bytes(target)
        paths["vocab.json"].write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tokenizer = MarianTokenizer(
            str(paths["source.spm"]),
            str(paths["target.spm"]),
            str(paths["vocab.json"]),
            source_lang="en",
            target_lang="mul",
            model_max_length=TRANSLATOR_MAX_POSITIONS,
        )
        pad = vocab["<pad>"]
        config = MarianConfig(
            vocab_size=len(vocab),
            decoder_vocab_size=len(vocab),
            max_position_embeddings=TRANSLATOR_MAX_POSITIONS,
            pad_token_id=pad,
            eos_token_id=0,
            decoder_start_token_id=pad,
            forced_eos_token_id=0,
            scale_embedding=True,
            share_encoder_decoder_embeddings=True,
            **_ARCH,
        )
        model = MarianMTModel(config).eval()
        han = [script_of(piece) == "han" for piece in vocab]
        han[0] = True  # </s>
        _keep_only(model, han)
        # Mimics Helsinki-NLP/opus-mt-*: beam 4, max_length 512 and pad as a "bad word".
        generation = {
            "bad_words_ids": [[pad]],
            "decoder_start_token_id": pad,
            "eos_token_id": 0,
            "forced_eos_token_id": 0,
            "max_length": 512,
            "num_beams": 4,
            "pad_token_id": pad,
        }
        _save(model, tokenizer, generation, folder)


def _multilingual_generation(**extra: Any) -> dict[str, Any]:
    base = {"bos_token_id": 0, "decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1}
    return {**base, **extra}


def build_nllb(folder: Path) -> None:
    from transformers import M2M100ForConditionalGeneration, NllbTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab, merges = train_bpe(EN_LINES + KO_LINES + ZH_LINES, 600, specials, byte_level=False)
    tokenizer = NllbTokenizer(
        vocab=vocab, merges=merges, src_lang="eng_Latn", model_max_length=TRANSLATOR_MAX_POSITIONS
    )
    model = M2M100ForConditionalGeneration(_m2m_config(len(tokenizer))).eval()
    _cluster_embeddings(
        model, tokenizer, {"latin": "eng_Latn", "hangul": "kor_Hang", "han": "zho_Hans"}
    )
    _save(model, tokenizer, _multilingual_generation(max_length=200), folder)


def build_m2m100(folder: Path) -> None:
    from transformers import M2M100ForConditionalGeneration, M2M100Tokenizer

    proto = train_spm(EN_LINES + KO_LINES + ZH_LINES, 600, model_type="bpe")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece, _ in spm_pieces(proto):
        vocab.setdefault(piece, len(vocab))
    with tempfile.TemporaryDirectory() as tmp:
        spm_file, vocab_file = Path(tmp) / "sentencepiece.bpe.model", Path(tmp) / "vocab.json"
        spm_file.write_bytes(proto)
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tokenizer = M2M100Tokenizer(
            str(vocab_file), str(spm_file), src_lang="en", model_max_length=TRANSLATOR_MAX_POSITIONS
        )
        # Language tokens sit after the sentencepiece vocab, followed by "made-up" words.
        size = len(vocab) + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
        model = M2M100ForConditionalGeneration(_m2m_config(size)).eval()
        _cluster_embeddings(
            model, tokenizer, {"latin": "__en__", "hangul": "__ko__", "han": "__zh__"}
        )
        generation = _multilingual_generation(max_length=200, num_beams=5, early_stopping=True)
        _save(model, tokenizer, generation, folder)


def _m2m_config(vocab_size: int) -> Any:
    from transformers import M2M100Config

    return M2M100Config(
        vocab_size=vocab_size,
        max_position_embeddings=TRANSLATOR_MAX_POSITIONS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        scale_embedding=True,
        **_ARCH,
    )


def build_mbart50(folder: Path) -> None:
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    proto = train_spm(EN_LINES + KO_LINES + ZH_LINES, 600)
    # The sentencepiece layout (<unk>, <s>, </s>, pieces): MBart50Tokenizer reorders it.
    vocab = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), *spm_pieces(proto)]
    tokenizer = MBart50Tokenizer(
        vocab=vocab, src_lang="en_XX", model_max_length=TRANSLATOR_MAX_POSITIONS
    )
    config = MBartConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=TRANSLATOR_MAX_POSITIONS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        scale_embedding=True,
        **_ARCH,
    )
    model = MBartForConditionalGeneration(config).eval()
    _cluster_embeddings(model, tokenizer, {"latin": "en_XX", "hangul": "ko_KR", "han": "zh_CN"})
    generation = _multilingual_generation(max_length=200, num_beams=5, forced_eos_token_id=2)
    _save(model, tokenizer, generation, folder)
