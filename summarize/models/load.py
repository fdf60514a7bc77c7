"""The run's models: each distinct one loaded once, warmed up and checked before any work,
with its fingerprint, manifest entry and accelerator readings."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from summarize.backends.base import Backend
from summarize.backends.threads import configure as configure_threads
from summarize.config import BUDGET_STEP, Config, ModelSpec
from summarize.models.check import Checker, run_model_checks, translator_groups, warm_up
from summarize.runs.memory import fingerprint

# Libraries whose version can change a backend's output (kernels, tokenisation, decoding).
OUTPUT_LIBRARIES = {
    "transformers": ("torch", "transformers", "tokenizers", "sentencepiece"),
    "ctranslate2": ("ctranslate2", "transformers", "tokenizers", "sentencepiece"),
    "vllm": ("vllm", "torch", "transformers", "tokenizers"),
}


def library_versions(backend: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in OUTPUT_LIBRARIES.get(backend, ()):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def identity(info: dict[str, Any], spec: ModelSpec | None = None) -> dict[str, Any]:
    """What names a model's outputs, from its ``info()`` and its spec: the model's version (hub
    commit, or a content hash of a local folder's weight, config and tokenizer files), backend,
    family, language codes, precision, the versions of the libraries that compute it, the
    new-token budget rule (and, for chat models, the prompts). Equal identities give equal
    outputs; anything that differs recomputes."""
    ident = {k: info.get(k) for k in ("model", "resolved_revision", "content_hash", "backend",
                                      "family", "dtype", "compute_type")}
    if info.get("prompt_fingerprint"):  # chat models: a changed prompt recomputes
        ident["prompt_fingerprint"] = info["prompt_fingerprint"]
    if spec is not None:
        ident["lang_codes"] = dict(sorted(spec.lang_codes.items()))
        ident["libraries"] = library_versions(str(info.get("backend") or spec.backend))
        ident["budget_step"] = BUDGET_STEP
    return ident


class Models:
    """Loads each distinct model once, on first use.

    ``weights=False`` (an engine that generates elsewhere): each model is a tokenizer-only
    view (token counts, input limit, language plan; nothing read from its weights) and its
    identity comes from ``info_of(spec)``, which asks where the model will run (the precision
    can depend on that machine's accelerator)."""

    def __init__(self, config: Config, loader: Callable[..., Backend], *, weights: bool = True,
                 info_of: Callable[[ModelSpec], dict[str, Any]] | None = None):
        self.config = config
        self.loader = loader
        self.weights = weights
        self.info_of = info_of
        self._loaded: dict[tuple[Any, ...], Backend] = {}
        self._identity: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._remote_info: dict[tuple[Any, ...], dict[str, Any]] = {}  # info_of's answers
        self.device_stats: dict[str, dict[str, Any]] = {}

    def get(self, spec: ModelSpec) -> Backend:
        key = spec.key()
        if key not in self._loaded:
            if self.weights:
                configure_threads(self.config.threads)  # process-wide: before any load
                self._loaded[key] = self.loader(spec, device=self.config.device,
                                                dtype=self.config.dtype)
            else:  # counted on the driver's CPU: token counts do not depend on the device
                if spec.backend == "auto" and self.info_of is not None:
                    # the engine the workers resolved, not the one this CPU would pick
                    spec = spec.model_copy(update={"backend": self.info_of(spec)["backend"]})
                self._loaded[key] = self.loader(spec, device="cpu", dtype=self.config.dtype,
                                                weights=False)
        return self._loaded[key]

    def identity(self, spec: ModelSpec) -> dict[str, Any]:
        key = spec.key()
        if key not in self._identity:
            info = self.info_of(spec) if self.info_of is not None else self.get(spec).info()
            self._identity[key] = identity(info, spec)
            if self.info_of is not None:
                self._remote_info[key] = info
        return self._identity[key]

    def fingerprint(self, spec: ModelSpec) -> str:
        return fingerprint(self.identity(spec))

    def entries(self) -> list[dict[str, Any]]:
        """The manifest's ``models``: one per task and language, with what the backend reports
        once loaded."""
        cfg = self.config
        entries = []
        for task, lang, spec in [("summarize", None, cfg.summarizer)] + [
            ("translate", lang, cfg.translators[lang]) for lang in cfg.languages
        ]:
            entry: dict[str, Any] = {"task": task, "target_lang": lang, "model": spec.model,
                                     "revision": spec.revision, "backend": spec.backend,
                                     "backend_setting": spec.backend}
            if spec.key() in self._remote_info:  # as the workers will run it
                entry.update(self._remote_info[spec.key()])
            elif spec.key() in self._loaded:
                entry.update(self.get(spec).info())
            else:
                entry["loaded"] = False
            entries.append(entry)
        return entries

    def prepare(self, check_models: bool, out_root: Any, progress: Any,
                timed: Callable[[str, float], None], checker: Checker | None = None
                ) -> list[dict[str, Any]]:
        """Load every model, check it can produce its language and generate with the run's
        settings (warm-up), and run the model check on first use; all before any work.
        Views are not warmed up here: the workers that load the weights do that.
        Returns the model checks' records."""
        cfg = self.config
        start = time.perf_counter()
        self.get(cfg.summarizer)
        for lang in cfg.languages:
            self.get(cfg.translators[lang]).count_tokens(["Hello."], lang)
        timed("load_models", time.perf_counter() - start)
        if self.weights:
            start = time.perf_counter()
            warm_up(self.get(cfg.summarizer), [None], cfg.summarizer.generation)
            for spec, langs in translator_groups(cfg):
                warm_up(self.get(spec), list(langs), spec.generation)
            timed("warm_up", time.perf_counter() - start)
        checks: list[dict[str, Any]] = []
        if check_models and cfg.model_check:
            start = time.perf_counter()
            checks = run_model_checks(cfg, self, out_root, progress, checker)
            timed("model_check", time.perf_counter() - start)
        self.snapshot("load_models", progress.log)
        return checks

    def snapshot(self, stage: str, log: Callable[[str], None]) -> None:
        """Accelerator memory/utilisation after a stage: one reading per device (the peak is
        device-wide, so it is read and reset once per device, not once per model)."""
        by_device: dict[str, list[tuple[str, Backend]]] = {}
        for key, backend in self._loaded.items():
            if getattr(backend, "device_stats", None) is not None:
                by_device.setdefault(str(backend.info().get("device")), []).append((key[0], backend))
        for device, entries in by_device.items():
            snap = entries[0][1].device_stats()  # type: ignore[attr-defined]
            if snap:
                snap["models"] = [name for name, _ in entries]
                self.device_stats.setdefault(stage, {})[device] = snap
                log(f"{stage}: {device} {snap}")
