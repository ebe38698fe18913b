from __future__ import annotations

import pytest

from app.review import charts


@pytest.fixture(autouse=True)
def _fresh_chart_cache() -> None:
    # test databases are emptied between tests, so event ids (the cache's data version) repeat
    charts.clear_cache()
