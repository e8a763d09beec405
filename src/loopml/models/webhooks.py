"""Registry events (version created, alias moved) sent to a webhook URL.

Set ``LOOPML_REGISTRY_WEBHOOK=https://...``. Delivery happens in a background thread with a
short timeout and two retries: a slow or failing receiver never slows or fails a
registration; failures are logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger("loopml.models")
_pending: list[threading.Thread] = []


def webhook_url() -> str | None:
    return os.environ.get("LOOPML_REGISTRY_WEBHOOK") or None


def send_event(event: str, payload: dict[str, Any]) -> threading.Thread | None:
    """POST ``{"event": ..., **payload}`` to the webhook, if one is configured."""
    url = webhook_url()
    if url is None:
        return None
    body = {"event": event, "time": int(time.time() * 1000), **payload}
    thread = threading.Thread(target=_deliver, args=(url, body), name="loopml-webhook")
    thread.daemon = True
    thread.start()
    _pending.append(thread)
    return thread


def wait_for_deliveries(timeout: float = 10.0) -> None:
    """Block until queued events are delivered (used at exit and by tests)."""
    deadline = time.monotonic() + timeout
    while _pending:
        thread = _pending.pop()
        thread.join(max(0.0, deadline - time.monotonic()))


def _deliver(url: str, body: dict[str, Any]) -> None:
    import httpx

    for attempt in range(3):
        try:
            response = httpx.post(url, json=body, timeout=5.0)
            if response.status_code < 500:
                if response.status_code >= 400:
                    log.warning("registry webhook %s answered %s", url, response.status_code)
                return
        except httpx.HTTPError as exc:
            if attempt == 2:
                log.warning("registry webhook %s failed: %s", url, exc)
        time.sleep(0.2 * (attempt + 1))
