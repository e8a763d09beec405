from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.store.base import open_store
from loopml.store.sql_store import SqlStore


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A fresh store, once on SQLite and once on PostgreSQL."""
    opened = open_store(store_url)
    assert isinstance(opened, SqlStore)
    yield opened
    opened.close()
