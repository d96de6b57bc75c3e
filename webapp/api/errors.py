"""API errors: always JSON ``{"error": message}`` (with ``fields`` for bad form data)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.exceptions import HTTPException

URL_PREFIX = "/api/v1"


class ApiError(Exception):
    """An answer other than success: its HTTP status, message and, for bad form data,
    the errors of each field."""

    def __init__(self, status: int, message: str,
                 fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields

    def response(self) -> tuple[Any, int, dict[str, str]]:
        body: dict[str, Any] = {"error": self.message}
        if self.fields:
            body["fields"] = self.fields
        headers = {"WWW-Authenticate": 'Bearer realm="minke"'} if self.status == 401 else {}
        return jsonify(body), self.status, headers


def json_error(error: HTTPException) -> Any:
    """JSON for an HTTP error under the API's prefix, routing errors (404, 405) included
    (those happen before a blueprint is known; webapp/errors.py sends them here)."""
    fields = getattr(error, "fields", None)  # inputs.BadParameter names its parameter
    response = jsonify(error=error.description or error.name,
                       **({"fields": fields} if fields else {}))
    response.status_code = error.code or 500
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in error.get_response().headers:
            response.headers[name] = error.get_response().headers[name]
    return response
