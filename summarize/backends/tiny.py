"""Tiny offline seq2seq models: random weights, real architecture classes, real tokenizers.

``build_tiny_models(out)`` writes one folder per model with ``save_pretrained``, so tests and
the demo load them through the same ``from_pretrained`` code as real hub models, plus ready
configs (``config.yaml``, ``config-m2m100.yaml``, ``config-mbart50.yaml``, and
``config-chat.yaml`` on the tiny chat models of ``summarize.backends.tiny_chat``).

Random weights say nothing, so two cheap tricks make the output look like the right language:
- the BART summariser and the Marian model get a ``final_logits_bias`` that keeps only
  English (ASCII) pieces, resp. Han pieces (the tiny Marian always writes Chinese);
- the multilingual models (NLLB, M2M100, mBART-50) get token embeddings clustered by script,
  with each language code at its script's centre. As the residual stream of a tiny random
  decoder is dominated by the previous token's embedding, the forced language token leads to
  pieces of its script, and each piece to more of the same.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

# Folder name -> family the backend must detect for it.
TINY_MODELS: dict[str, str] = {
    "summarizer": "plain",
    "marian": "marian",
    "nllb": "nllb",
    "m2m100": "m2m100",
    "mbart50": "mbart50",
}
TINY_FAMILIES: tuple[str, ...] = ("marian", "nllb", "m2m100", "mbart50")

SUMMARIZER_MAX_POSITIONS = 256
TRANSLATOR_MAX_POSITIONS = 128

EN_LINES = (
    "The city council approved a new budget for schools, roads and public transport on Monday.",
    "Heavy rain caused floods in the northern region, and thousands of people left their homes.",
    "The president said the government would help families who lost their houses in the storm.",
    "Scientists reported that the average temperature this year was higher than ever before.",
    "The central bank kept interest rates unchanged and warned that prices are still rising.",
    "Local farmers say the dry summer has cut their harvest of rice and wheat by a third.",
    "Police closed the main bridge after a truck crashed into a bus early in the morning.",
    "The national team won the final match two to one in front of a crowd of fifty thousand.",
    "A new hospital with three hundred beds will open in the capital next year, officials said.",
    "Workers at the port went on strike to demand higher wages and shorter working hours.",
    "The company announced that it will build a factory for electric cars near the river.",
    "Students and teachers returned to school after the long holiday, and classes began again.",
    "The minister of health asked people to wear masks on trains and in crowded places.",
    "Researchers at the university found a way to recycle plastic bottles into new clothes.",
    "Prices of food and fuel went up again last month, according to the statistics office.",
    "The mayor promised to plant ten thousand trees and to open new parks in every district.",
    "An earthquake of magnitude six struck off the coast, but no damage has been reported.",
    "Voters will choose a new parliament in March, and the campaign starts this week.",
)
KO_LINES = (
    "시의회는 월요일에 학교와 도로, 대중교통을 위한 새 예산을 승인했다.",
    "북부 지역에 폭우가 내려 홍수가 발생했고 수천 명이 집을 떠났다.",
    "대통령은 정부가 폭풍으로 집을 잃은 가족들을 도울 것이라고 말했다.",
    "과학자들은 올해 평균 기온이 그 어느 때보다 높았다고 보고했다.",
    "중앙은행은 금리를 동결하고 물가가 여전히 오르고 있다고 경고했다.",
    "지역 농민들은 건조한 여름 때문에 쌀과 밀 수확이 삼분의 일 줄었다고 말한다.",
    "경찰은 아침 일찍 트럭이 버스와 충돌한 뒤 주요 다리를 폐쇄했다.",
    "국가대표팀은 오만 명의 관중 앞에서 결승전을 이 대 일로 이겼다.",
    "삼백 개의 병상을 갖춘 새 병원이 내년에 수도에서 문을 연다고 관계자들이 밝혔다.",
    "항구 노동자들은 임금 인상과 근무 시간 단축을 요구하며 파업에 들어갔다.",
    "회사는 강 근처에 전기차 공장을 짓겠다고 발표했다.",
    "학생과 교사들은 긴 방학을 마치고 학교로 돌아왔고 수업이 다시 시작되었다.",
)
ZH_LINES = (
    "市议会周一批准了用于学校、道路和公共交通的新预算。",
    "北部地区暴雨引发洪水，数千人离开了家园。",
    "总统表示，政府将帮助在风暴中失去房屋的家庭。",
    "科学家报告说，今年的平均气温比以往任何时候都高。",
    "中央银行维持利率不变，并警告物价仍在上涨。",
    "当地农民说，干燥的夏天使大米和小麦的收成减少了三分之一。",
    "清晨一辆卡车撞上公共汽车后，警方关闭了主要桥梁。",
    "国家队在五万名观众面前以二比一赢得了决赛。",
    "官员说，一家拥有三百张床位的新医院明年将在首都开业。",
    "港口工人举行罢工，要求提高工资和缩短工作时间。",
    "该公司宣布将在河边建设一座电动汽车工厂。",
    "漫长的假期结束后，学生和老师回到学校，重新开始上课。",
)

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


def build_tiny_models(out_dir: Path, *, seed: int = 0) -> Path:
    """Build all tiny models and their configs under ``out_dir``; returns ``out_dir``."""
    import torch
    from transformers.utils import logging as hf_logging

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    builders: dict[str, Callable[[Path], None]] = {
        "summarizer": _build_bart,
        "marian": _build_marian,
        "nllb": _build_nllb,
        "m2m100": _build_m2m100,
        "mbart50": _build_mbart50,
    }
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        for offset, (name, build) in enumerate(builders.items()):
            target = out_dir / name
            if target.exists():
                shutil.rmtree(target)
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                # MarianTokenizer recommends sacremoses; the tiny models do not need it.
                warnings.filterwarnings("ignore", message=".*sacremoses")
                torch.manual_seed(seed + offset)
                build(target)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    from summarize.backends.tiny_chat import build_tiny_chat_models

    build_tiny_chat_models(out_dir, seed=seed + len(builders))
    write_tiny_configs(out_dir)
    return out_dir


# ---------------------------------------------------------------- tokenizer training helpers


def _train_spm(lines: Iterable[str], vocab_size: int, model_type: str = "unigram") -> bytes:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(lines)),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return buf.getvalue()


def _spm_pieces(proto: bytes) -> list[tuple[str, float]]:
    """(piece, score) of every ordinary piece, in id order (control and unknown left out)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=proto)
    return [
        (sp.id_to_piece(i), sp.get_score(i))
        for i in range(sp.get_piece_size())
        if not (sp.is_control(i) or sp.is_unknown(i))
    ]


def train_bpe(
    lines: Iterable[str], vocab_size: int, specials: list[str], *, byte_level: bool,
    min_frequency: int = 2,
) -> tuple[dict[str, int], Any]:
    """A BPE vocab and merges trained with the tokenizers library (also used by the bench)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None if byte_level else "<unk>"))
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(list(lines), trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


# ---------------------------------------------------------------- weight tricks


def _script(text: str) -> str | None:
    if any("\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" for c in text):
        return "hangul"
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        return "han"
    if any(c.isascii() and c.isalpha() for c in text):
        return "latin"
    return None


def _token_scripts(tokenizer: Any, size: int) -> list[str | None]:
    special = set(tokenizer.all_special_ids)
    return [
        None if i in special else _script(tokenizer.decode([i], skip_special_tokens=False))
        for i in range(size)
    ]


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
    scripts = _token_scripts(tokenizer, n)
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


def _build_bart(folder: Path) -> None:
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
        piece.isascii() and (_script(piece) == "latin" or piece.strip() in {".", ",", ""})
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


def _build_marian(folder: Path) -> None:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    source = _train_spm(EN_LINES, 300)
    target = _train_spm(KO_LINES + ZH_LINES, 400)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for token in (">>cmn_Hans<<", ">>kor<<", ">>jpn<<", ">>yue_Hant<<"):
        vocab[token] = len(vocab)
    for piece, _ in _spm_pieces(source) + _spm_pieces(target):
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
        han = [_script(piece) == "han" for piece in vocab]
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


def _build_nllb(folder: Path) -> None:
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


def _build_m2m100(folder: Path) -> None:
    from transformers import M2M100ForConditionalGeneration, M2M100Tokenizer

    proto = _train_spm(EN_LINES + KO_LINES + ZH_LINES, 600, model_type="bpe")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece, _ in _spm_pieces(proto):
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


def _build_mbart50(folder: Path) -> None:
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    proto = _train_spm(EN_LINES + KO_LINES + ZH_LINES, 600)
    # The sentencepiece layout (<unk>, <s>, </s>, pieces): MBart50Tokenizer reorders it.
    vocab = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), *_spm_pieces(proto)]
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


# ---------------------------------------------------------------- configs


def _generation(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "num_beams": 1,
        # Random weights run to their budget: 16 new tokens for most sentences (a budget is
        # rounded up to 16), and room for sources up to 176 tokens before they are split.
        "max_new_tokens": 48,
        "max_new_tokens_ratio": 0.25,
        "max_new_tokens_extra": 4,
        "min_new_tokens": 3,
        "no_repeat_ngram_size": 2,
        "repetition_penalty": 1.3,
    }
    return {**base, **overrides}


def _summarizer_spec(out_dir: Path) -> dict[str, Any]:
    return {
        "model": str(out_dir / "summarizer"),
        "family": "plain",
        "generation": _generation(
            num_beams=2,
            max_new_tokens=24,
            max_new_tokens_ratio=None,
            min_new_tokens=8,
            length_penalty=1.0,
            no_repeat_ngram_size=3,
            repetition_penalty=1.0,
        ),
    }


def _translator_spec(out_dir: Path, name: str) -> dict[str, Any]:
    return {"model": str(out_dir / name), "generation": _generation()}


def tiny_config(out_dir: Path, translators: dict[str, str]) -> dict[str, Any]:
    """A config (as a dict) running the pipeline on the tiny models in ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    return {
        "languages": list(translators),
        "summarizer": _summarizer_spec(out_dir),
        "translators": {
            lang: _translator_spec(out_dir, name) for lang, name in translators.items()
        },
        "batch": {"max_batch_tokens": 2048, "max_batch_size": 16, "window_articles": 16},
        # Random weights fail the model check by design (tests/test_modelcheck.py proves it).
        "model_check": False,
    }


TINY_CONFIGS: dict[str, dict[str, str]] = {
    "config.yaml": {"ko": "nllb", "zh-Hans": "marian"},
    "config-m2m100.yaml": {"ko": "m2m100", "zh-Hans": "m2m100"},
    "config-mbart50.yaml": {"ko": "mbart50", "zh-Hans": "mbart50"},
}


def write_tiny_configs(out_dir: Path) -> None:
    """Write the tiny configs next to the model folders (absolute model paths)."""
    header = ("# Tiny offline models (random weights) built by summarize.backends.tiny.\n"
              "# Their output is meaningless, so the model check is off (model_check: false).\n")
    for filename, translators in TINY_CONFIGS.items():
        data = tiny_config(out_dir, translators)
        text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        (Path(out_dir) / filename).write_text(text, encoding="utf-8")
    from summarize.backends.tiny_chat import chat_config

    text = header + yaml.safe_dump(chat_config(out_dir), sort_keys=False, allow_unicode=True)
    (Path(out_dir) / "config-chat.yaml").write_text(text, encoding="utf-8")
