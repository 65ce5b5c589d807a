from __future__ import annotations

from tests.properties.profiles import register

register()
