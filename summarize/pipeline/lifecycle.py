"""A run folder from start to finish: created or resumed, the manifest (status running,
then complete/failed/interrupted), the counters, errors.jsonl and the ``latest`` pointer.
Knows nothing about the work itself."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from summarize import __version__
from summarize.config import Config
from summarize.models.load import Models
from summarize.read import InputFiles
from summarize.records import Article, BadRecord
from summarize.runs.memory import fingerprint
from summarize.runs.store import OutputDir, Run, utcnow

OUTPUT_PACKAGES = ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2",
                   "huggingface_hub", "safetensors")


def describe_inputs(scan: InputFiles, path: Path) -> dict[str, Any]:
    """The manifest's ``inputs``: every file with its sha256, and a digest over them all."""
    return {"path": str(path.resolve()), "files": scan.files, "digest": scan.digest}


def no_identity(config: Config) -> dict[str, Any]:
    """The identity of a run that stopped before its models were ready."""
    return {"digest": "", "config_hash": config.hash(), "models": {}}


def run_identity(config: Config, models: Models) -> dict[str, Any]:
    """The run's output identity: the config hash and each model's identity (version, backend,
    family, language codes, precision, libraries), with one digest over them. It keys the
    memory (per model), is stamped into every article and decides what a rerun may reuse."""
    specs = [("summarize", config.summarizer)] + [
        (f"translate:{lang}", config.translators[lang]) for lang in config.languages]
    entries = {name: models.identity(spec) for name, spec in specs}
    digest = fingerprint({"config_hash": config.hash(), "models": entries})
    return {"digest": digest, "config_hash": config.hash(), "models": entries}


def identity_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What differs between two runs' output identities, in words (empty when equal)."""
    if not old:
        return ["the earlier run has no output identity (made by an older version)"]
    if old.get("digest") == new["digest"]:
        return []
    changes = []
    if old.get("config_hash") != new["config_hash"]:
        changes.append("the config changed")
    old_models = old.get("models", {})
    for name, ident in new["models"].items():
        before = old_models.get(name)
        if before is None:
            changes.append(f"{name}: new")
            continue
        keys = [k for k in sorted(set(ident) | set(before)) if ident.get(k) != before.get(k)]
        if keys:
            changes.append(f"{name}: " + ", ".join(
                f"{k} {_short(before.get(k))} -> {_short(ident.get(k))}" for k in keys))
    return changes or ["the output identity changed"]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:16] + "…" + text[-8:]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "summarize": __version__}
    for name in OUTPUT_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def new_counts() -> dict[str, Any]:
    return {"articles_ok": 0, "articles_failed": 0, "articles_resumed": 0,
            "articles_unchanged": 0, "bad_records": 0,
            "segments_computed": 0, "segments_reused": 0, "segments_human": 0,
            "articles_flagged": 0, "qa_flags": {}}


@dataclass(frozen=True)
class Reuse:
    """A finished article file a run takes as it is: its own (resumed; ``previous`` None) or
    an unchanged one of ``previous``."""

    article_id: str
    doc: dict[str, Any]
    previous: Run | None


@dataclass
class RunLifecycle:
    """One run's folder and manifest; ``counts`` and ``timings`` are written with it."""

    out: OutputDir
    run: Run
    manifest: dict[str, Any]
    fail_on_qa: bool = False
    counts: dict[str, Any] = field(default_factory=new_counts)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def open(cls, out: OutputDir, config: Config, inputs: dict[str, Any], *, use_cache: bool,
             command: list[str], glossary_digest: str | None, identity: dict[str, Any],
             human_stamp: str, fail_on_qa: bool = False,
             log: Callable[[str], None] = lambda message: None) -> RunLifecycle:
        """Resume the unfinished run of the same config, inputs and output identity, or create
        one; write the manifest with status ``running``. An unfinished run whose models differ
        is never resumed (its articles would mix two models): a new run starts, and ``log``
        says what changed."""
        config_hash = config.hash()
        out.remove_stray_temp_files()
        run = out.find_resumable(config_hash, inputs["digest"])
        if run is not None:
            before = run.read_manifest().get("output_identity")
            # A run that stopped before its models were ready has no identity and no article:
            # resuming it mixes nothing. Articles of an older version lack the stamp and are
            # made again (reuse_article compares it).
            changes = identity_changes(before, identity) if before and before.get("models") else []
            if changes:
                log(f"not resuming unfinished run {run.run_id}: {'; '.join(changes)}; "
                    f"starting a new run")
                run = None
        resumed = run is not None
        if run is None:
            started_at = utcnow()
            run = out.create_run(config_hash, {"status": "running", "config_hash": config_hash,
                                               "inputs_digest": inputs["digest"],
                                               "output_identity": identity,
                                               "started_at": started_at})
        else:
            run.remove_stray_temp_files()
            started_at = run.read_manifest().get("started_at", utcnow())
        run.reset_errors()
        life = cls(out, run, {}, fail_on_qa)
        life.manifest = {
            "run_id": run.run_id, "status": "running", "config_hash": config_hash,
            "output_identity": identity, "human_stamp": human_stamp,
            "config": config.resolved(), "inputs_digest": inputs["digest"], "inputs": inputs,
            "models": [], "packages": package_versions(), "counts": life.counts,
            "started_at": started_at, "finished_at": None, "timings": life.timings,
            "resumed": resumed, "cache": use_cache, "command": command,
            "glossary": glossary_digest, "reuse": None,
        }
        run.write_manifest(life.manifest)
        return life

    def previous_run(self) -> Run | None:
        """The run whose unchanged articles this one may share: ``latest``, when its output
        identity and human translations are this run's. Otherwise None, and the manifest's
        ``reuse`` says why nothing is shared."""
        latest = self.out.latest()
        if latest is None or latest.path == self.run.path:
            return None
        try:
            before = latest.read_manifest()
        except (OSError, ValueError):
            return None
        changes = identity_changes(before.get("output_identity"), self.manifest["output_identity"])
        if before.get("human_stamp") != self.manifest["human_stamp"]:
            changes.append("human translations were imported since")
        self.manifest["reuse"] = {"from": latest.run_id, "changes": changes}
        return None if changes else latest

    def reusable(self, article_id: str, input_sha: str, previous: Run | None) -> Reuse | None:
        """The article's finished file, when it needs no work: written by this run before it
        was interrupted, or unchanged since ``previous``. Only reads files (ids are unique in a
        run, so no file it reads is being written), so it may run ahead of the window being
        processed; ``reuse`` then counts it."""
        ident = self.manifest["output_identity"]["digest"]
        doc = self.run.read_article(article_id) if self.resumed else None
        if doc is not None and self._same(doc, input_sha, ident):
            return Reuse(article_id, doc, None)
        if previous is None:
            return None
        doc = previous.read_article(article_id)
        if doc is None or not self._same(doc, input_sha, ident):
            return None
        return Reuse(article_id, doc, previous)

    def reuse(self, found: Reuse) -> None:
        """Count a reusable article as done; one from ``previous`` is shared (a hard link), so
        it is not segmented, generated, checked or written again."""
        if found.previous is None:
            self.done(found.doc, resumed=True)
            return
        self.run.share_article(found.previous, found.article_id)
        self.done(found.doc)
        self.counts["articles_unchanged"] += 1

    def reuse_article(self, article_id: str, input_sha: str, previous: Run | None) -> bool:
        """Whether the article is already done (``reusable``), counted if so (``reuse``)."""
        found = self.reusable(article_id, input_sha, previous)
        if found is not None:
            self.reuse(found)
        return found is not None

    def _same(self, doc: dict[str, Any], input_sha: str, ident: str) -> bool:
        return (doc.get("input_sha256") == input_sha
                and doc.get("config_hash") == self.manifest["config_hash"]
                and doc.get("output_identity") == ident)

    @property
    def resumed(self) -> bool:
        return bool(self.manifest["resumed"])

    def time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def finish(self, status: str, **extra: Any) -> None:
        """Write the final manifest (``extra`` adds its sections, in order); point ``latest``
        at the run when it is complete. A run with no good article is kept as failed and never
        becomes ``latest``: the next export still publishes the last good run."""
        if status == "complete" and self.counts["articles_ok"] == 0:
            status = "failed"
            self.manifest["failure"] = "no article could be processed; latest was not moved"
        self.manifest["status"] = status
        self.manifest["finished_at"] = utcnow()
        self.manifest.update(extra)
        self.run.write_manifest(self.manifest)
        if status == "complete":
            self.out.point_latest(self.run)

    def bad_record(self, bad: BadRecord) -> None:
        self.counts["bad_records"] += 1
        self.counts["articles_failed"] += 1
        self.run.append_error({"file": bad.source, "line": bad.line, "id": bad.id,
                               "stage": "read", "reason": bad.reason})

    def failed(self, article: Article, reason: str) -> str:
        """Record an article that failed in processing; returns the message for the user."""
        self.counts["articles_failed"] += 1
        self.run.append_error({"file": article.source, "line": article.line, "id": article.id,
                               "stage": "process", "reason": reason})
        where = article.source + (f":{article.line}" if article.line else "")
        return f"{where} (id {article.id!r}): {reason}"

    def done(self, doc: dict[str, Any], resumed: bool = False) -> None:
        """Count a written (or, resuming, an already written) article and its QA flags."""
        qa = doc.get("qa", [])
        if qa:
            self.counts["articles_flagged"] += 1
            for flag in qa:
                self.counts["qa_flags"][flag["check"]] = self.counts["qa_flags"].get(flag["check"], 0) + 1
        if qa and self.fail_on_qa:
            self.counts["articles_failed"] += 1
        else:
            self.counts["articles_ok"] += 1
        if resumed:
            self.counts["articles_resumed"] += 1
