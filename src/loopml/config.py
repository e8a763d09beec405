"""Settings read from the environment: where the store, the artifacts and the token live.

The same code runs on a laptop and on a team's servers; only these URIs change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".loopml"


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``store_uri`` is a SQLAlchemy URL (or ``http(s)://`` for a server),
    ``artifact_uri`` a local folder or any fsspec URI."""

    store_uri: str
    artifact_uri: str
    token: str | None = None


def home() -> Path:
    """The folder of the embedded default (``$LOOPML_HOME``, else ``./.loopml``)."""
    return Path(os.environ.get("LOOPML_HOME", DEFAULT_HOME))


def default_store_uri() -> str:
    return f"sqlite:///{home() / 'loopml.db'}"


def default_artifact_uri() -> str:
    return str(home() / "artifacts")


def settings() -> Settings:
    """Read the settings now (not at import): tests and tools change the environment."""
    return Settings(
        store_uri=os.environ.get("LOOPML_STORE") or default_store_uri(),
        artifact_uri=os.environ.get("LOOPML_ARTIFACTS") or default_artifact_uri(),
        token=os.environ.get("LOOPML_TOKEN") or None,
    )
