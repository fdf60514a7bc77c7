"""The few exception types the CLI turns into messages and exit codes."""


class SummarizeError(Exception):
    """Base class: a problem the user can act on; the CLI prints it without a traceback."""

    exit_code = 1


class ConfigError(SummarizeError):
    """Bad configuration or command-line usage."""

    exit_code = 2


class InputError(SummarizeError):
    """The input path as a whole cannot be read (single bad records are not errors)."""

    exit_code = 2


class ModelLoadError(SummarizeError):
    """A model or tokenizer could not be loaded; the message says how to make it available."""

    exit_code = 4


class GenerationError(SummarizeError):
    """Generation fails for a reason that is not one input (install, driver, device, bug)."""

    exit_code = 4


class ModelCheckError(SummarizeError):
    """A model's output on the built-in canary is unusable (wrong script, empty, looping...)."""

    exit_code = 4


class RunLockedError(SummarizeError):
    """Another run holds the output folder."""

    exit_code = 5


# Exit codes of `summarize run` besides the exceptions' own (documented in the README).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # the run completed but some articles failed
EXIT_INTERRUPTED = 130


class RecordError(ValueError):
    """One input record is unusable; carries the reason shown to the user."""


class EngineError(SummarizeError):
    """The generation engine cannot run: a Ray cluster that cannot be started or reached, or
    workers that die or disagree with the driver."""

    exit_code = 4


class InputChanged(InputError):
    """An input file's bytes changed between the scan and the reading of its records."""
