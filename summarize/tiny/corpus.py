"""Text the tiny models' tokenizers are trained on, and the tokenizer training helpers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

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


def train_spm(lines: Iterable[str], vocab_size: int, model_type: str = "unigram") -> bytes:
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


def spm_pieces(proto: bytes) -> list[tuple[str, float]]:
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


def script_of(text: str) -> str | None:
    if any("\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" for c in text):
        return "hangul"
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        return "han"
    if any(c.isascii() and c.isalpha() for c in text):
        return "latin"
    return None


def token_scripts(tokenizer: Any, size: int) -> list[str | None]:
    special = set(tokenizer.all_special_ids)
    return [
        None if i in special else script_of(tokenizer.decode([i], skip_special_tokens=False))
        for i in range(size)
    ]
