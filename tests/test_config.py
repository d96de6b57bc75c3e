"""Configuration: a key of the installation's own when SECRET_KEY is not set."""

from __future__ import annotations

import stat

from webapp.config import instance_secret_key


def test_a_missing_secret_key_is_generated_once_readable_by_its_owner_only(tmp_path, capsys):
    first = instance_secret_key(str(tmp_path))
    notice = capsys.readouterr().err
    second = instance_secret_key(str(tmp_path))

    assert first == second and len(first) == 64
    assert "generated one in" in notice and "SECRET_KEY" in notice
    assert capsys.readouterr().err == ""  # the notice comes once, when it is created
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
