"""A run folder from start to finish: created or resumed, the manifest (status running,
then complete/failed/interrupted), the counters, errors.jsonl and the ``latest`` pointer.
Knows nothing about the work itself."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config
from .readers import InputScan
from .records import Article, BadRecord
from .store import OutputDir, Run, utcnow

OUTPUT_PACKAGES = ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2",
                   "huggingface_hub", "safetensors")


def describe_inputs(scan: InputScan, path: Path) -> dict[str, Any]:
    """The manifest's ``inputs``: every file with its sha256, and a digest over them all."""
    digest = hashlib.sha256(json.dumps(scan.files, sort_keys=True).encode()).hexdigest()
    return {"path": str(path.resolve()), "files": scan.files, "digest": digest}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "summarize": __version__}
    for name in OUTPUT_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def new_counts() -> dict[str, Any]:
    return {"articles_ok": 0, "articles_failed": 0, "articles_resumed": 0, "bad_records": 0,
            "segments_computed": 0, "segments_reused": 0, "segments_human": 0,
            "articles_flagged": 0, "qa_flags": {}}


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
             command: list[str], glossary_digest: str | None,
             fail_on_qa: bool = False) -> RunLifecycle:
        """Resume the unfinished run of the same config and inputs, or create one; write the
        manifest with status ``running``."""
        config_hash = config.hash()
        out.remove_stray_temp_files()
        run = out.find_resumable(config_hash, inputs["digest"])
        resumed = run is not None
        if run is None:
            started_at = utcnow()
            run = out.create_run(config_hash, {"status": "running", "config_hash": config_hash,
                                               "inputs_digest": inputs["digest"],
                                               "started_at": started_at})
        else:
            run.remove_stray_temp_files()
            started_at = run.read_manifest().get("started_at", utcnow())
        run.reset_errors()
        life = cls(out, run, {}, fail_on_qa)
        life.manifest = {
            "run_id": run.run_id, "status": "running", "config_hash": config_hash,
            "config": config.resolved(), "inputs_digest": inputs["digest"], "inputs": inputs,
            "models": [], "packages": package_versions(), "counts": life.counts,
            "started_at": started_at, "finished_at": None, "timings": life.timings,
            "resumed": resumed, "cache": use_cache, "command": command,
            "glossary": glossary_digest,
        }
        run.write_manifest(life.manifest)
        return life

    @property
    def resumed(self) -> bool:
        return bool(self.manifest["resumed"])

    def time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def finish(self, status: str, **extra: Any) -> None:
        """Write the final manifest (``extra`` adds its sections, in order); point ``latest``
        at the run when it is complete."""
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
