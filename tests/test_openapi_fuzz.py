"""The OpenAPI document holds what the server does: schemathesis, with every check, against
the app under gunicorn with a bearer token, finds no server error, no answer the document
does not describe, and no request the document allows that the server refuses (or the
reverse). A short bounded run: a fixed seed and number of examples per operation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sessions import REGISTRY
from webapp.api.tokens import create_token
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.models import Host, HostGroup

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")
"""The one scoped exception (POST /runs' form data), with the reason."""
EXAMPLES = int(os.environ.get("MINKE_SCHEMATHESIS_EXAMPLES", "25"))
"""Examples per operation and phase: enough to cover each enum and bound in ~40 s here;
set the variable for a deeper run (and ``MINKE_SCHEMATHESIS_SEED`` for another seed)."""
SEED = os.environ.get("MINKE_SCHEMATHESIS_SEED", "18")


@pytest.fixture
def api_token(app, admin) -> str:
    """ada's token, with a host, a group and a run of hers for the fuzzer to find."""
    group = HostGroup(name="fuzz-group")
    host = Host(name="fuzz1", hostname="127.0.0.1", port=1, username="nobody", groups=[group])
    db.session.add_all([group, host])
    db.session.commit()
    start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), [host], user=admin,
              data={"message": "hi"})
    _row, token = create_token(admin, "schemathesis")
    db.session.commit()
    return token


def test_schemathesis_finds_nothing_the_document_does_not_say(live_server, api_token,
                                                               tmp_path: Path):
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("schemathesis is not installed (requirements-test.txt)")
    result = subprocess.run(
        [command, "--config-file", str(CONFIG), "run", f"{live_server.url}/api/v1/openapi.json",
         "--header", f"Authorization: Bearer {api_token}",
         "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", SEED,
         "--phases", "examples,coverage,fuzzing", "--no-color",
         "--request-timeout", "10", "--max-failures", "20"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
