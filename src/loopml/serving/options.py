"""Settings of one prediction service, with their defaults and the checks they need."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from loopml.errors import InvalidInput

CHALLENGER_MODES = ("shadow", "canary")


@dataclass(frozen=True)
class ServeOptions:
    # micro-batching
    max_batch_rows: int = 64
    max_wait_ms: float = 5.0
    max_latency_ms: float = 2000.0
    max_queue_rows: int = 50_000
    # request limits
    max_body_bytes: int = 10 * 1024 * 1024
    max_request_rows: int = 10_000
    unseen_categories: str = "reject"  # or "flag": accept, answer, and report a warning
    # registry
    reload_interval_s: float = 2.0  # how often the alias is checked; 0 turns hot reload off
    challenger: str | None = None  # an alias ("challenger") or a model URI
    challenger_mode: str = "shadow"
    canary_share: float = 0.1
    # prediction log
    log_predictions: bool = True
    flush_interval_s: float = 0.5
    log_buffer: int = 100_000
    stats_interval_s: float = 10.0
    # auth (None: read LOOPML_TOKEN)
    token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        positive = ("max_batch_rows", "max_latency_ms", "max_queue_rows", "max_body_bytes",
                    "max_request_rows", "flush_interval_s", "log_buffer", "stats_interval_s")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"serve option {name}: must be a positive number, got {value!r}")
        for name in ("max_wait_ms", "reload_interval_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"serve option {name}: must be >= 0, got {value!r}")
        if self.unseen_categories not in ("reject", "flag"):
            raise InvalidInput(
                "serve option unseen_categories: 'reject' or 'flag', "
                f"got {self.unseen_categories!r}"
            )
        if self.challenger_mode not in CHALLENGER_MODES:
            raise InvalidInput(
                f"serve option challenger_mode: 'shadow' or 'canary', got {self.challenger_mode!r}"
            )
        if not 0 < self.canary_share < 1:
            raise InvalidInput(
                f"serve option canary_share: a fraction between 0 and 1, got {self.canary_share!r}"
            )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra"]
