"""Exception types for problems a user can cause; the CLI turns them into one line and exit 1."""


class AccelsimError(Exception):
    """Base of every error caused by bad input (a file, a key, an option, a step)."""


class ConfigError(AccelsimError):
    """An impossible option or a bad value in a configuration."""


class DataError(AccelsimError):
    """A dataset file is missing or malformed."""


class TraceError(AccelsimError):
    """A trace file is malformed, truncated or corrupted."""
