from pathlib import Path

import pytest

from summarize.config import GenerationSettings, load_config
from summarize.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


MINIMAL = """
summarizer: {model: sshleifer/distilbart-cnn-12-6}
translators:
  ko: {model: facebook/m2m100_418M}
  zh-Hans: {model: Helsinki-NLP/opus-mt-en-zh}
"""


@pytest.mark.parametrize("name", ["default", "nllb", "m2m100"])
def test_shipped_configs_validate(name):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    assert set(cfg.languages) == {"ko", "zh-Hans"}
    for lang in cfg.languages:
        assert cfg.translators[lang].generation.num_beams >= 1


def test_default_profile_is_permissive():
    """The default must be usable by commercial sites: no NLLB (CC-BY-NC)."""
    cfg = load_config(ROOT / "configs" / "default.yaml")
    names = [cfg.summarizer.model] + [t.model for t in cfg.translators.values()]
    assert not any("nllb" in n.lower() for n in names)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (MINIMAL + "bogus: 1\n", "bogus: unknown key"),
        (MINIMAL.replace("{model: sshleifer/distilbart-cnn-12-6}",
                         "{model: x, generation: {num_beems: 4}}"), "summarizer.generation.num_beems: unknown key"),
        (MINIMAL + "device: gpu0\n", "device"),
        (MINIMAL + "batch: {max_batch_tokens: 0}\n", "batch.max_batch_tokens"),
        (MINIMAL.replace("zh-Hans: {model: Helsinki-NLP/opus-mt-en-zh}", "fr: {model: x}"), "translators.fr"),
        ("languages: [ko]\nsummarizer: {model: a}\ntranslators: {}\n", "no model for ko"),
        ("- a\n- b\n", "mapping"),
        ("summarizer: [\n", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert needle in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_and_relative_model_paths(tmp_path):
    p = write(tmp_path, MINIMAL.replace("sshleifer/distilbart-cnn-12-6", "./models/bart"))
    cfg = load_config(p, {"device": "cpu", "batch.max_batch_tokens": 123, "dtype": None})
    assert cfg.device == "cpu"
    assert cfg.batch.max_batch_tokens == 123
    assert cfg.summarizer.model == str((tmp_path / "models" / "bart").resolve())


def test_hash_tracks_output_settings_only(tmp_path):
    base = load_config(write(tmp_path, MINIMAL))
    batch = load_config(write(tmp_path, MINIMAL), {"batch.max_batch_tokens": 99})
    beams = load_config(write(tmp_path, MINIMAL), {"translators.ko.generation.num_beams": 2})
    assert base.hash() == batch.hash()
    assert base.hash() != beams.hash()


@pytest.mark.parametrize(
    ("kwargs", "source", "expected"),
    [
        # ceil(2.0 x 10) + 16 = 36, rounded up to a multiple of 16
        ({"max_new_tokens_ratio": 2.0, "max_new_tokens_extra": 16, "max_new_tokens": 512}, 10, 48),
        ({"max_new_tokens_ratio": 2.0, "max_new_tokens_extra": 16, "max_new_tokens": 30}, 10, 30),
        ({"max_new_tokens_ratio": 1.5, "max_new_tokens_extra": 0, "max_new_tokens": 512}, 3, 16),
        ({"max_new_tokens_ratio": 1.5, "max_new_tokens_extra": 0, "max_new_tokens": 512}, 11, 32),
        ({"max_new_tokens_ratio": None, "max_new_tokens": 142}, 900, 142),
    ],
)
def test_generation_budget(kwargs, source, expected):
    assert GenerationSettings(**kwargs).budget(source) == expected


def test_config_hash_follows_the_glossary_content_not_its_path(tmp_path):
    """Resuming after a glossary edit must not mix old and new glossary forms."""
    glossary = tmp_path / "glossary.yaml"
    glossary.write_text("UNHCR: {ko: 유엔난민기구, zh-Hans: 联合国难民署}\n", encoding="utf-8")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(MINIMAL + "glossary: glossary.yaml\n", encoding="utf-8")
    before = load_config(cfg).hash()
    assert load_config(cfg).hash() == before
    glossary.write_text("UNHCR: {ko: 유엔 난민 기구, zh-Hans: 联合国难民署}\n", encoding="utf-8")
    assert load_config(cfg).hash() != before
    moved = tmp_path / "elsewhere.yaml"
    moved.write_text(glossary.read_text(encoding="utf-8"), encoding="utf-8")
    edited = load_config(cfg).hash()
    cfg.write_text(MINIMAL + f"glossary: {moved}\n", encoding="utf-8")
    assert load_config(cfg).hash() != before and load_config(cfg).hash() != edited  # path counts too
