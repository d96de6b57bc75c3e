"""The OpenAPI document as served: ``openapi.yaml`` with the names this installation knows
filled in, so that the document allows exactly what the server accepts.

The models, the sessions and the status badges depend on the installation
(``MINKE_SESSION_MODULES``, user models), so the YAML marks where they go with
``x-minke-enum`` and :func:`openapi_document` puts each list there as an ``enum``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sessions import REGISTRY

from ..models import MINKE_MODELS
from ..objects.specs import list_specs
from ..status import BADGES

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


def _enums() -> dict[str, list[str]]:
    specs = list_specs().values()
    return {
        "models": sorted(MINKE_MODELS),
        # the object lists answer their model's name in any case; the document names each once
        "list_models": sorted(spec.model_name for spec in specs),
        "sessions": sorted(cls.__name__ for cls in REGISTRY),  # registered by class name
        "statuses": sorted(BADGES),
    }


def _fill(node: Any, enums: dict[str, list[str]]) -> Any:
    if isinstance(node, dict):
        name = node.pop("x-minke-enum", None)
        filled = {key: _fill(value, enums) for key, value in node.items()}
        if name is not None:
            filled["enum"] = enums[name]
        return filled
    if isinstance(node, list):
        return [_fill(item, enums) for item in node]
    return node


def openapi_document() -> dict[str, Any]:
    """``openapi.yaml`` with every ``x-minke-enum`` replaced by this installation's names."""
    with OPENAPI_FILE.open(encoding="utf-8") as file:
        return _fill(yaml.safe_load(file), _enums())
