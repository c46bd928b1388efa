"""The matcher's exceptions: one root, one class per meaning."""


class MatcherError(Exception):
    """Root of every error the matcher raises on purpose."""


class AudioError(MatcherError):
    """A file could not be used as audio: missing, empty, corrupt, silent, not audio, too long."""

    def __init__(self, path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class IndexFormatError(MatcherError):
    """An index on disk is missing, damaged, of another format version, or built with other settings."""


class CatalogError(MatcherError):
    """A catalog manifest or a catalog operation is invalid (bad columns, unknown id)."""
