"""pytest parameters: the protocol/field pairs each approximation is tested on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hal.runner import available


def _param(proto: str, field: str) -> Any:
    marks = [] if available(proto) else [pytest.mark.skip(reason=f"veil.mpc.{proto} not available yet")]
    return pytest.param(proto, field, id=f"{proto}-{field}", marks=marks)


BASE = [_param("ref2k", "FM64"), _param("semi2k", "FM64")]
WIDE = [*BASE, _param("semi2k", "FM128")]
