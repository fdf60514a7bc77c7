"""Random-weight models with the real sizes of the default models, and the benchmark workload.

Everything is built offline and cached under ``bench/out/models``: a tokenizer trained on
generated text (what matters is how many tokens a sentence has, not what it means), the vocabulary
padded with filler pieces to the real model's size, and ``save_pretrained`` folders that load
through the same ``from_pretrained`` code as the hub models.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TOKENIZER_PIECES = 8000
CORPUS_LINES = 12_000
BUILD_SCHEMA = 1


@dataclass(frozen=True)
class Shape:
    """The architecture of a real model, copied from its hub config.json."""

    name: str
    hub_id: str
    arch: str  # marian | nllb | bart
    family: str  # summarize family: marian | nllb | plain
    target_lang: str | None  # BCP-47 tag the bench translates into (None: summariser)
    d_model: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int

    def describe(self) -> str:
        return (f"{self.hub_id} shape, random weights: {self.arch} d{self.d_model} "
                f"{self.encoder_layers}+{self.decoder_layers} layers, {self.heads} heads, "
                f"ffn {self.ffn}, vocab {self.vocab:,}")


MARIAN_EN_ZH = Shape("opus-mt-en-zh", "Helsinki-NLP/opus-mt-en-zh", "marian", "marian", "zh-Hans",
                     512, 6, 6, 8, 2048, 65_001, 512)
NLLB_600M = Shape("nllb-200-distilled-600M", "facebook/nllb-200-distilled-600M", "nllb", "nllb", "ko",
                  1024, 12, 12, 16, 4096, 256_206, 1024)
DISTILBART = Shape("distilbart-cnn-12-6", "sshleifer/distilbart-cnn-12-6", "bart", "plain", None,
                   1024, 12, 6, 16, 4096, 50_264, 1024)
SHAPES = {s.name: s for s in (MARIAN_EN_ZH, NLLB_600M, DISTILBART)}


# ---------------------------------------------------------------- generated text


def _words(rng: random.Random, n: int) -> list[str]:
    onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
              "w", "st", "tr", "pl", "ch", "sh", "br", "gr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st"]
    words: set[str] = set()
    while len(words) < n:
        syllables = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                          for _ in range(syllables)))
    return sorted(words)


class TextMaker:
    """Deterministic English-looking sentences from a Zipf-weighted synthetic lexicon."""

    def __init__(self, seed: int = 0, lexicon: int = 6000):
        self.rng = random.Random(seed)
        self.words = _words(self.rng, lexicon)
        self.weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(self.words))]

    def words_(self, n: int) -> list[str]:
        return self.rng.choices(self.words, weights=self.weights, k=n)

    def sentence(self, n_words: int) -> str:
        words = self.words_(n_words)
        for i in range(3, len(words) - 2, 9):  # a comma now and then, as in news text
            words[i] += ","
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."


def corpus(lines: int = CORPUS_LINES, seed: int = 0) -> list[str]:
    maker = TextMaker(seed)
    return [maker.sentence(maker.rng.randint(4, 40)) for _ in range(lines)]


def make_workload(tokenizer: Any, n: int, lo: int, hi: int, seed: int = 1, prefix: str = "") -> list[str]:
    """``n`` sentences whose token counts (special tokens included) spread evenly over [lo, hi]."""
    maker = TextMaker(seed=0)
    maker.rng = random.Random(seed)
    targets = [lo + (hi - lo) * i // max(1, n - 1) for i in range(n)]
    random.Random(seed).shuffle(targets)
    out = []
    for target in targets:
        words = maker.words_(target)
        text = ""
        for k in range(1, len(words) + 1):
            candidate = " ".join(words[:k])
            candidate = candidate[0].upper() + candidate[1:] + "."
            if len(tokenizer(prefix + candidate).input_ids) > target:
                break
            text = candidate
        out.append(text or words[0].capitalize() + ".")
    return out


# ---------------------------------------------------------------- tokenizers


def _train_spm(lines: list[str], pieces: int) -> bytes:
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=pieces, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, bos_id=-1, eos_id=0, unk_id=1, pad_id=-1,
        num_threads=2, minloglevel=2,
    )
    return buf.getvalue()


def _fill(vocab: dict[str, int], size: int, filler: str) -> None:
    """Pad a vocabulary with pieces no text produces, to the real model's size."""
    i = 0
    while len(vocab) < size:
        vocab.setdefault(f"{filler}{i}", len(vocab))
        i += 1


def _marian_tokenizer(shape: Shape, lines: list[str]) -> Any:
    import sentencepiece as spm
    from transformers import MarianTokenizer

    proto = _train_spm(lines, TOKENIZER_PIECES)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    # Layout of the opus-mt vocab.json: </s> 0, <unk> 1, target-language tokens, pieces, <pad> last.
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for token in (">>cmn_Hans<<", ">>cmn_Hant<<", ">>yue_Hans<<", ">>kor<<"):
        vocab[token] = len(vocab)
    for i in range(sp.get_piece_size()):
        if not (sp.is_control(i) or sp.is_unknown(i)):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    _fill(vocab, shape.vocab - 1, "▁filler")
    vocab["<pad>"] = len(vocab)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("source.spm", "target.spm"):
            (Path(tmp) / name).write_bytes(proto)
        (Path(tmp) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        return MarianTokenizer(
            str(Path(tmp) / "source.spm"), str(Path(tmp) / "target.spm"), str(Path(tmp) / "vocab.json"),
            source_lang="en", target_lang="zh", model_max_length=shape.max_positions,
        )


def _bpe(lines: list[str], specials: list[str], *, byte_level: bool) -> tuple[dict[str, int], Any]:
    from summarize.tiny.corpus import train_bpe

    return train_bpe(lines, TOKENIZER_PIECES, specials, byte_level=byte_level, min_frequency=0)


def _nllb_tokenizer(shape: Shape, lines: list[str]) -> Any:
    from transformers import NllbTokenizer

    vocab, merges = _bpe(lines, ["<s>", "<pad>", "</s>", "<unk>"], byte_level=False)
    # The language codes follow the pieces; the converter pads the rest with "madeupword"s.
    return NllbTokenizer(vocab=vocab, merges=merges, src_lang="eng_Latn",
                         model_max_length=shape.max_positions)


def _bart_tokenizer(shape: Shape, lines: list[str]) -> Any:
    from transformers import BartTokenizer

    vocab, merges = _bpe(lines, ["<s>", "<pad>", "</s>", "<unk>"], byte_level=True)
    vocab = dict(vocab)
    _fill(vocab, shape.vocab - 1, "Ġfiller")
    vocab["<mask>"] = len(vocab)
    return BartTokenizer(vocab=vocab, merges=merges, model_max_length=shape.max_positions)


# ---------------------------------------------------------------- models


def _config(shape: Shape, tokenizer: Any) -> Any:
    common = dict(
        vocab_size=shape.vocab, d_model=shape.d_model, encoder_layers=shape.encoder_layers,
        decoder_layers=shape.decoder_layers, encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads, encoder_ffn_dim=shape.ffn, decoder_ffn_dim=shape.ffn,
        max_position_embeddings=shape.max_positions, dropout=0.1,
    )
    if shape.arch == "marian":
        from transformers import MarianConfig

        pad = tokenizer.convert_tokens_to_ids("<pad>")
        return MarianConfig(**common, decoder_vocab_size=shape.vocab, activation_function="swish",
                            scale_embedding=True, static_position_embeddings=True,
                            share_encoder_decoder_embeddings=True, pad_token_id=pad, eos_token_id=0,
                            decoder_start_token_id=pad, forced_eos_token_id=0)
    if shape.arch == "nllb":
        from transformers import M2M100Config

        return M2M100Config(**common, activation_function="relu", scale_embedding=True,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    from transformers import BartConfig

    return BartConfig(**common, activation_function="gelu", scale_embedding=False, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=0,
                      forced_eos_token_id=2)


def _model_class(arch: str) -> Any:
    import transformers

    return {"marian": transformers.MarianMTModel, "nllb": transformers.M2M100ForConditionalGeneration,
            "bart": transformers.BartForConditionalGeneration}[arch]


def build_model(shape: Shape, root: Path) -> Path:
    """``root/<name>``: the model folder, built once (a marker says it is complete)."""
    import torch
    from transformers import GenerationConfig
    from transformers.utils import logging as hf_logging

    folder = root / shape.name
    marker = folder / "bench-build.json"
    stamp = {"schema": BUILD_SCHEMA, **asdict(shape)}
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    hf_logging.disable_progress_bar()
    lines = corpus()
    if shape.arch == "marian":
        tokenizer = _marian_tokenizer(shape, lines)
    elif shape.arch == "nllb":
        tokenizer = _nllb_tokenizer(shape, lines)
    else:
        tokenizer = _bart_tokenizer(shape, lines)
    torch.manual_seed(0)
    config = _config(shape, tokenizer)
    model = _model_class(shape.arch)(config).eval()
    # Only the special token ids: no hidden decoding defaults in any measured path.
    model.generation_config = GenerationConfig(
        **{k: getattr(config, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id",
                                           "decoder_start_token_id")}
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    stamp["parameters"] = sum(p.numel() for p in model.parameters())
    marker.write_text(json.dumps({"schema": BUILD_SCHEMA, **asdict(shape)}), encoding="utf-8")
    (folder / "bench-params.json").write_text(json.dumps({"parameters": stamp["parameters"]}))
    return folder


def parameters(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "bench-params.json").read_text())["parameters"])
    except (OSError, ValueError, KeyError):
        return None
