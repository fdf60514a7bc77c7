"""`summarize import` of reviewed XLIFF: review semantics and hostile files, through the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tracemalloc
import unicodedata
from pathlib import Path

import pytest
from click.testing import Result
from lxml import etree
from typer.testing import CliRunner

from summarize.cli import app
from summarize.export.review import REFUSE_CONFLICT, REFUSE_NO_RECORD, REFUSE_SOURCE_EDITED
from summarize.export.run import TARGET_LANGS

FIXTURE = Path(__file__).parent / "fixtures" / "run"
RUN_ID = "20261102T101500000000Z-abcdef12"
NS = "urn:oasis:names:tc:xliff:document:2.0"
X = f"{{{NS}}}"
SUM_NS = "urn:x-summarize:xliff:1"
FLOODS_P1S0 = "Officials said the water would recede by Friday."


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output folder whose latest run is a copy of the fixture run."""
    root = tmp_path / "out"
    shutil.copytree(FIXTURE, root / RUN_ID)
    (root / "latest").symlink_to(RUN_ID)
    return root


@pytest.fixture
def xlf(out: Path, tmp_path: Path) -> Path:
    """The folder the run was exported to as XLIFF (ko.xlf, zh-Hans.xlf)."""
    to = tmp_path / "review"
    result = invoke("export", str(out), "--format", "xliff", "--to", str(to))
    assert result.exit_code == 0, result.output
    return to


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def import_(path: Path, out: Path, *extra: str) -> Result:
    return invoke("import", str(path), "--out", str(out), *extra)


def human_rows(out: Path) -> list[tuple[str, str, str]]:
    db = out / "memory.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT source, lang, target FROM human").fetchall())


def edit(path: Path, article: str, unit: str, sid: str, **change: str) -> None:
    """Change one segment's target text and/or state (or source), as a review tool would."""
    tree = etree.parse(str(path))
    seg = tree.find(f".//{X}file[@original='{article}']/{X}unit[@id='{unit}']/{X}segment[@id='{sid}']")
    if "target" in change:
        seg.find(X + "target").text = change["target"]
    if "source" in change:
        seg.find(X + "source").text = change["source"]
    if "state" in change:
        seg.set("state", change["state"])
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def target_of(path: Path, article: str, unit: str, sid: str) -> str:
    tree = etree.parse(str(path))
    return tree.findtext(
        f".//{X}file[@original='{article}']/{X}unit[@id='{unit}']/{X}segment[@id='{sid}']/{X}target"
    )


def counts(result: Result) -> dict[str, int]:
    """taken/skipped/refused as the report prints them."""
    found = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("taken", "skipped", "refused"):
            found[words[0]] = int(words[1])
    return found


# -- review semantics ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", TARGET_LANGS)
def test_an_unedited_export_reimported_makes_nothing_human(out: Path, xlf: Path, lang: str) -> None:
    result = import_(xlf / f"{lang}.xlf", out)
    assert result.exit_code == 0, result.output
    # ko has a QA-flagged ("initial") segment and a human ("reviewed") one: still nothing taken
    assert counts(result) == {"taken": 0, "skipped": 15, "refused": 0}
    assert "15 unchanged since export" in result.stdout
    assert human_rows(out) == []


def test_one_reviewed_change_makes_exactly_one_human_translation(out: Path, xlf: Path) -> None:
    edit(xlf / "ko.xlf", "world/floods", "body", "p1s0", target="물은 금요일까지 빠진다.")
    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 0, result.output
    assert counts(result) == {"taken": 1, "skipped": 14, "refused": 0}
    assert human_rows(out) == [(FLOODS_P1S0, "ko", "물은 금요일까지 빠진다.")]


@pytest.mark.parametrize("state", ["final", "reviewed"])
def test_raising_the_state_without_a_text_change_is_a_human_review(
    out: Path, xlf: Path, state: str
) -> None:
    # exported "initial": QA flagged it; the reviewer approves the text as it is
    exported = target_of(xlf / "ko.xlf", "tech-notes", "body", "p1s1")
    edit(xlf / "ko.xlf", "tech-notes", "body", "p1s1", state=state)
    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 0, result.output
    assert counts(result)["taken"] == 1
    assert human_rows(out) == [("Note that 3 < 4 & 5 > 2.", "ko", exported)]


def test_a_segment_exported_as_reviewed_stays_unchanged_when_marked_final(
    out: Path, xlf: Path
) -> None:
    edit(xlf / "ko.xlf", "world/floods", "title", "p0s0", state="final")  # exported "reviewed"
    result = import_(xlf / "ko.xlf", out)
    assert counts(result)["taken"] == 0
    assert human_rows(out) == []


def test_a_tool_that_renormalises_text_does_not_make_it_human(out: Path, xlf: Path) -> None:
    exported = target_of(xlf / "ko.xlf", "brief", "body", "p0s0")
    nfd = unicodedata.normalize("NFD", exported)
    assert nfd != exported
    edit(xlf / "ko.xlf", "brief", "body", "p0s0", target=f"  {nfd}\n")
    result = import_(xlf / "ko.xlf", out)
    assert counts(result) == {"taken": 0, "skipped": 15, "refused": 0}


def strip_summarize_data(path: Path) -> None:
    """What a review tool that drops unknown extension data would write back."""
    tree = etree.parse(str(path))
    root = tree.getroot()
    for el in list(root.iter(f"{{{SUM_NS}}}exported")):
        el.getparent().remove(el)
    for name in list(root.attrib):
        if name.startswith(f"{{{SUM_NS}}}"):
            del root.attrib[name]
    etree.cleanup_namespaces(root)
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def test_without_the_export_record_only_reviewed_states_are_taken(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    strip_summarize_data(path)
    assert SUM_NS not in path.read_text(encoding="utf-8")
    result = import_(path, out)
    assert result.exit_code == 3, result.output  # some refused
    # world/floods title went out as "reviewed" (a human's); the 14 others cannot be judged
    assert counts(result) == {"taken": 1, "skipped": 0, "refused": 14}
    assert REFUSE_NO_RECORD in result.stdout
    assert "the file names no run" in result.stdout
    assert [row[0] for row in human_rows(out)] == ["Floods: \"Worst in 50 years,\" officials say"]


def strip_unit_records(path: Path) -> None:
    """A tool that keeps attributes on <xliff> but drops extension elements in units."""
    tree = etree.parse(str(path))
    for el in list(tree.getroot().iter(f"{{{SUM_NS}}}exported")):
        el.getparent().remove(el)
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def test_without_unit_records_the_named_run_tells_what_was_exported(
    out: Path, xlf: Path
) -> None:
    path = xlf / "ko.xlf"
    strip_unit_records(path)
    result = import_(path, out)
    assert counts(result) == {"taken": 0, "skipped": 15, "refused": 0}, result.output
    edit(path, "world/floods", "body", "p1s0", target="물은 금요일까지 빠진다.")
    edit(path, "tech-notes", "body", "p1s1", state="final")  # exported "initial" (QA flag)
    result = import_(path, out)
    assert counts(result) == {"taken": 2, "skipped": 13, "refused": 0}, result.output
    assert [row[0] for row in human_rows(out)] == ["Note that 3 < 4 & 5 > 2.", FLOODS_P1S0]


@pytest.mark.parametrize("lang", TARGET_LANGS)
def test_records_rebuilt_from_the_run_match_the_files(out: Path, xlf: Path, lang: str) -> None:
    from summarize.export import open_run, read_review
    from summarize.export.xliff import export_records

    in_file = {
        (s.article_id, s.part, s.para, s.sent): s.exported
        for s in read_review(xlf / f"{lang}.xlf").segments
    }
    rebuilt = {
        (doc["id"], *place): rec
        for doc in open_run(out).articles()
        for place, rec in export_records(doc, lang).items()
    }
    assert in_file == rebuilt
    assert {rec.state for rec in rebuilt.values()} >= {"translated", "initial"}


def test_dry_run_reports_and_stores_nothing(out: Path, xlf: Path) -> None:
    edit(xlf / "ko.xlf", "world/floods", "body", "p1s0", target="물은 금요일까지 빠진다.")
    result = import_(xlf / "ko.xlf", out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert counts(result)["taken"] == 1
    assert "dry run: nothing stored" in result.stdout
    assert human_rows(out) == []
    assert import_(xlf / "ko.xlf", out).exit_code == 0
    assert len(human_rows(out)) == 1


def test_a_source_the_run_no_longer_has_is_reported_not_stored(
    out: Path, xlf: Path
) -> None:
    # The exported run is pruned; the latest run has a re-worded sentence.
    newer = "20261103T101500000000Z-abcdef12"
    shutil.move(out / RUN_ID, out / newer)
    (out / "latest").unlink()
    (out / "latest").symlink_to(newer)
    path = out / newer / "articles" / "world" / "floods.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    seg = next(s for s in doc["segments"] if s["en"] == FLOODS_P1S0)
    seg["en"] = "Officials expect the water to recede by Friday."
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    edit(xlf / "ko.xlf", "world/floods", "body", "p1s0", target="물은 금요일까지 빠진다.")
    edit(xlf / "ko.xlf", "brief", "body", "p0s1", target="에너지주가 떨어졌다.")

    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 3, result.output
    assert f"run {RUN_ID!r} named by the file is not in" in result.stdout
    assert f"English source is not a sentence of run {newer}: world/floods body/p1s0" in (
        result.stdout
    )
    assert human_rows(out) == [("Energy shares fell.", "ko", "에너지주가 떨어졌다.")]


def test_an_edited_source_is_refused(out: Path, xlf: Path) -> None:
    edit(
        xlf / "ko.xlf", "brief", "body", "p0s1", source="Energy shares rose.", target="올랐다."
    )
    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 3
    assert f"{REFUSE_SOURCE_EDITED}: brief body/p0s1" in result.stdout
    assert human_rows(out) == []


def test_contradicting_reviews_of_one_sentence_are_refused(out: Path, tmp_path: Path) -> None:
    path = out / RUN_ID / "articles" / "brief.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["segments"][2]["en"] = doc["segments"][1]["en"]  # body p0s1 repeats body p0s0
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    to = tmp_path / "review"
    assert invoke("export", str(out), "--format", "xliff", "--to", str(to)).exit_code == 0
    edit(to / "ko.xlf", "brief", "body", "p0s0", target="하나.")
    edit(to / "ko.xlf", "brief", "body", "p0s1", target="둘.")
    result = import_(to / "ko.xlf", out)
    assert result.exit_code == 3
    assert f"2 {REFUSE_CONFLICT}" in result.stdout
    assert human_rows(out) == []

    edit(to / "ko.xlf", "brief", "body", "p0s1", target="하나.")  # now they agree
    result = import_(to / "ko.xlf", out)
    assert result.exit_code == 0, result.output
    assert human_rows(out) == [("Stocks ended the day unchanged.", "ko", "하나.")]


def test_a_run_name_from_the_file_is_never_used_as_a_path(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    path.write_text(
        path.read_text(encoding="utf-8").replace(f'sum:run="{RUN_ID}"', 'sum:run="../../etc"'),
        encoding="utf-8",
    )
    result = import_(path, out)
    assert result.exit_code == 0, result.output
    assert "run '../../etc' named by the file is not in" in result.stdout
    assert f"checked against the latest run {RUN_ID}" in result.stdout


# -- hostile and wrong files -----------------------------------------------------------------


def assert_refused(result: Result, path: Path, message: str, out: Path) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert str(path) in result.stderr
    assert result.stderr.startswith("error: ")
    assert human_rows(out) == []


@pytest.mark.parametrize("lang", ["fr", "../../x", "ko-KR"])
def test_a_target_language_summarize_does_not_have_is_refused(
    out: Path, xlf: Path, lang: str
) -> None:
    path = xlf / "ko.xlf"
    path.write_text(
        path.read_text(encoding="utf-8").replace('trgLang="ko"', f'trgLang="{lang}"'),
        encoding="utf-8",
    )
    assert_refused(import_(path, out), path, f"trgLang {lang!r} is not a language", out)


def test_a_file_switched_to_the_other_language_is_refused(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(' trgLang="ko"', ' trgLang="zh-Hans"', 1), encoding="utf-8")
    assert_refused(import_(path, out), path, "trgLang is 'zh-Hans' but the file was exported for 'ko'", out)
    # the unit records still say ko when the root's own record is gone too
    text = text.replace(' trgLang="ko"', ' trgLang="zh-Hans"', 1).replace(' sum:trgLang="ko"', "")
    path.write_text(text, encoding="utf-8")
    assert_refused(import_(path, out), path, "exported for 'ko', but its trgLang is 'zh-Hans'", out)


def test_a_language_the_run_was_not_configured_for_is_refused(out: Path, xlf: Path) -> None:
    manifest = out / RUN_ID / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["config"]["languages"] = ["ko"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    path = xlf / "zh-Hans.xlf"
    assert_refused(import_(path, out), path, f"is not one of run {RUN_ID}'s languages (ko)", out)


def with_doctype(path: Path, doctype: str, target: str | None = None) -> None:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("\n")
    if target is not None:
        rest = rest.replace("에너지주는 하락했다.", target)
    path.write_text(f"{head}\n{doctype}\n{rest}", encoding="utf-8")


@pytest.mark.parametrize(
    ("doctype", "target"),
    [
        ('<!DOCTYPE xliff [<!ENTITY e "injected">]>', "A &e; B"),
        ('<!DOCTYPE xliff SYSTEM "http://example.invalid/x.dtd">', None),
        ("<!DOCTYPE xliff>", None),
    ],
)
def test_a_doctype_is_refused(out: Path, xlf: Path, doctype: str, target: str | None) -> None:
    path = xlf / "ko.xlf"
    with_doctype(path, doctype, target)
    assert_refused(import_(path, out), path, "has a DOCTYPE", out)


def test_a_doctype_in_utf16_is_refused(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    text = path.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    head, _, rest = text.partition("\n")
    path.write_bytes(f"{head}\n<!DOCTYPE xliff>\n{rest}".encode("utf-16"))
    assert_refused(import_(path, out), path, "has a DOCTYPE", out)


def test_an_undefined_entity_is_an_error_not_dropped(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    path.write_text(
        path.read_text(encoding="utf-8").replace("에너지주는 하락했다.", "A &e; B"),
        encoding="utf-8",
    )
    assert_refused(import_(path, out), path, "Entity 'e' not defined", out)


@pytest.mark.parametrize(
    ("hex_value", "why"),
    [
        ("D800", "a surrogate code point is not a character"),
        ("dfff", "a surrogate code point is not a character"),
        ("110000", "beyond U+10FFFF"),
        ("zz", "not a hexadecimal code point"),
        ("0x41", "not a hexadecimal code point"),
        ("+41", "not a hexadecimal code point"),
        ("", "not a hexadecimal code point"),
    ],
)
def test_invalid_code_points_are_refused_naming_the_segment(
    out: Path, xlf: Path, hex_value: str, why: str
) -> None:
    path = xlf / "ko.xlf"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "에너지주는 하락했다.", f'에너지<cp hex="{hex_value}"/>주는'
        ),
        encoding="utf-8",
    )
    result = import_(path, out)
    assert_refused(result, path, why, out)
    assert "article 'brief', unit 'body', segment 'p0s1'" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<xliff",
        "not xml at all",
        '<?xml version="1.0"?><xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" '
        'version="2.0" srcLang="en"/>',
    ],
)
def test_broken_files_are_clear_errors(out: Path, tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.xlf"
    path.write_text(text, encoding="utf-8")
    result = import_(path, out)
    assert result.exit_code == 2, result.output
    assert str(path) in result.stderr


def test_a_missing_file_and_a_folder_are_clear_errors(out: Path, tmp_path: Path) -> None:
    for path in (tmp_path / "nope.xlf", tmp_path):
        result = import_(path, out)
        assert result.exit_code == 2, result.output
        assert f"cannot read {path}" in result.stderr


def test_an_output_folder_without_runs_is_a_clear_error(xlf: Path, tmp_path: Path) -> None:
    result = import_(xlf / "ko.xlf", tmp_path / "empty")
    assert result.exit_code == 2, result.output
    assert "has no run to check the English sources against" in result.stderr



def test_target_languages_are_the_configs() -> None:
    from summarize.config import LANGUAGES

    assert TARGET_LANGS == LANGUAGES


def test_an_entity_node_in_a_target_is_refused_not_dropped(tmp_path: Path) -> None:
    """Defence in depth: should a parse ever keep an entity reference, it is an error."""
    from summarize.export.run import ExportError
    from summarize.export.xliff_read import _inline_text

    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    el = etree.fromstring(
        f'<!DOCTYPE target [<!ENTITY e "x">]><target xmlns="{NS}">A &e; B</target>', parser
    )

    def fail(_el: etree._Element, problem: str) -> ExportError:
        return ExportError(problem)

    with pytest.raises(ExportError, match="entity reference &e; is not allowed"):
        _inline_text(el, fail)


def test_a_memory_that_cannot_be_written_is_a_clear_error(out: Path, xlf: Path) -> None:
    edit(xlf / "ko.xlf", "world/floods", "body", "p1s0", target="물은 금요일까지 빠진다.")
    (out / "memory.sqlite").mkdir()  # not a database
    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 2, result.output
    assert "cannot store reviewed translations in" in result.stderr


def test_an_unexpected_failure_is_a_message_not_a_traceback(
    out: Path, xlf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import summarize.export.review as review

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(review, "import_review", boom)
    result = import_(xlf / "ko.xlf", out)
    assert result.exit_code == 1
    assert "internal error (RuntimeError): disk on fire" in result.stderr


# -- streaming: same judgement as before, memory flat in the size of the file ---------------


def review_edits(path: Path) -> None:
    """Edits of every kind on a generated run's export, one article apart."""
    edit(path, "a-b", "body", "p0s0", target="고친 번역.")  # a reviewer's edit
    edit(path, "a/x", "title", "p0s0", state="final")  # a raised state
    edit(path, "a0", "body", "p0s0", source="Edited source.", target="원문이 바뀌었다.")
    edit(path, "news/0001", "summary", "p0s0", target="  ")  # emptied
    tree = etree.parse(str(path))
    files = {f.get("original"): f for f in tree.getroot().iter(f"{X}file")}
    for original in ("news/0003", "news/0006", "news/0007"):  # a tool dropped the records
        for el in list(files[original].iter(f"{{{SUM_NS}}}exported")):
            el.getparent().remove(el)
    files["news/0006"].set("original", "../news/0006")  # and an id the run does not have
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    edit(path, "news/0003", "body", "p0s0", target="기록 없이 고쳤다.")
    edit(path, "news/0003", "title", "p0s0", source="Moved source.", target="바뀐 원문.")
    edit(path, "../news/0006", "title", "p0s0", state="final")
    edit(path, "../news/0006", "body", "p0s0", source="Not in the run.", state="reviewed")
    edit(path, "news/0007", "body", "p0s0", state="final")


# Recorded from the import that parsed the whole file and scanned the whole run first.
IMPORT_GOLDEN = "fabdfad8db3e920e51f3e4d9efc19a1f3cad1449ea7ef583b0cc81e6f1b7ab47"


def test_import_judges_a_generated_review_as_before_it_streamed(tmp_path: Path) -> None:
    from tests.test_export import golden_ids, synthetic_run

    root = tmp_path / "out"
    run = synthetic_run(root / "20261201T000000000000Z-abcdef12", golden_ids(24))
    (root / "latest").symlink_to(run.name)
    to = tmp_path / "review"
    assert invoke("export", str(root), "--format", "xliff", "--to", str(to)).exit_code == 0
    review_edits(to / "ko.xlf")
    said = []
    for extra in (("--dry-run",), ()):
        result = import_(to / "ko.xlf", root, *extra)
        said.append([result.exit_code, result.stdout.replace(str(tmp_path), "TMP"), result.stderr])
    said.append(human_rows(root))
    digest = hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()
    assert digest == IMPORT_GOLDEN, json.dumps(said, ensure_ascii=False, indent=1)


def _import_peak(path: Path, out: Path) -> int:
    from summarize.export.review import plan_import

    tracemalloc.start()
    try:
        report = plan_import(path, out, dry_run=True)
        assert len(report.taken) == 2, report.lines()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_import_memory_does_not_grow_with_the_size_of_the_file(tmp_path: Path) -> None:
    """The file is read an article at a time and the run only where a segment needs it:
    under 200 bytes more per article at 500 articles than at 50 (the import that parsed the
    whole file and scanned the whole run kept over 10 KB per article)."""
    from summarize.export import export_run
    from tests.test_export import golden_ids, synthetic_run

    files = []
    for n in (50, 500):
        root = tmp_path / f"out-{n}"
        run = synthetic_run(root / "20261201T000000000000Z-abcdef12", golden_ids(n))
        (root / "latest").symlink_to(run.name)
        export_run(root, "xliff", tmp_path / f"review-{n}")
        path = tmp_path / f"review-{n}" / "ko.xlf"
        edit(path, "a-b", "body", "p0s0", target="고친 번역.")
        edit(path, "zeta", "title", "p0s0", target="고친 제목.")
        files.append((path, root))
    _import_peak(*files[1])  # imports and caches are not the import's
    peaks = [_import_peak(*pair) for pair in files]
    per_article = (peaks[1] - peaks[0]) / (500 - 50)
    assert per_article < 200, (
        f"peak traced memory {peaks[0]} B at 50 articles, {peaks[1]} B at 500 "
        f"({peaks[1] / peaks[0]:.1f}x, {per_article:.0f} B per article)"
    )


def test_an_article_split_over_two_files_is_refused(out: Path, xlf: Path) -> None:
    path = xlf / "ko.xlf"
    tree = etree.parse(str(path))
    root = tree.getroot()
    brief = root.find(f"{X}file[@original='brief']")
    root.remove(brief)
    root.append(brief)  # brief now comes after the other articles
    copy = etree.fromstring(etree.tostring(brief))
    copy.remove(copy.find(f"{X}unit[@id='title']"))
    root.insert(0, copy)  # and its body also before them
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    result = import_(path, out)
    assert_refused(result, path, "a second <file> for this article", out)
    assert "article 'brief'" in result.stderr
