"""Sessions that ask for secrets (tests/test_secrets.py); importable by worker subprocesses.

None of them spells a secret out: a command line, its output and messages are
stored, so they show a secret's SHA-256 or whether one is set, never the value.
"""

from __future__ import annotations

from wtforms import Form, PasswordField, StringField
from wtforms.validators import DataRequired

from sessions import Session


class BinForm(Form):
    bin = StringField("Directory of the sudo stand-in", default="")


class PassphraseSession(Session):
    """Logs in with an encrypted key: the passphrase is asked for before the run."""

    work_on = ("Host",)
    ask_secrets = ("ssh_key_passphrase",)

    def process(self):
        self.xrun("echo logged in")


class SudoSession(Session):
    """Runs ``id -un`` through fabric's sudo (the sudo password asked for before the run);
    ``bin`` puts a stand-in for sudo first on PATH."""

    work_on = ("Host",)
    form = BinForm
    ask_secrets = ("sudo_password",)

    def process(self):
        env = {"PATH": f"{self.data['bin']}:/usr/bin:/bin"} if self.data.get("bin") else {}
        result = self.c.sudo("id -un", env=env)
        self.add_msg(result)
        self.set_status(result.ok)  # sudo -S prompts on stderr: no warning for that


class ReportSudoSession(Session):
    """Asks nothing itself; says whether its connection got a sudo password (a host
    group's) and runs ``id -un`` through sudo when it did."""

    work_on = ("Host",)
    form = BinForm
    parrallel_per_host = True

    def process(self):
        self.run("true")  # connects, whatever follows
        password = self.c.config.sudo.password
        self.add_msg(f"sudo password set: {password is not None}")
        if password is not None:
            env = {"PATH": f"{self.data['bin']}:/usr/bin:/bin"} if self.data.get("bin") else {}
            self.add_msg(self.c.sudo("id -un", env=env))


class ApiKeyForm(Form):
    api_key = StringField("API key", validators=[DataRequired()])
    label = StringField("Label")


class SecretFieldSession(Session):
    """A text field marked secret reaches the command through its environment."""

    work_on = ("Host",)
    form = ApiKeyForm
    secret_fields = ("api_key",)

    def process(self):
        self.xrun('printf %s "$API_KEY" | sha256sum', env={"API_KEY": self.data["api_key"]})


class EverythingForm(Form):
    token = PasswordField("Token", validators=[DataRequired()])
    api_key = StringField("API key", validators=[DataRequired()])
    bin = StringField("Directory of the sudo stand-in", default="")


class EverySecretSession(Session):
    """Every kind of secret at once, for the never-stored proof: an encrypted key's
    passphrase, a sudo password, a password field and a field marked secret."""

    work_on = ("Host",)
    form = EverythingForm
    secret_fields = ("api_key",)
    ask_secrets = ("ssh_key_passphrase", "sudo_password")

    def process(self):
        self.xrun('printf %s "$T$K" | sha256sum',
                  env={"T": self.data["token"], "K": self.data["api_key"]})
        result = self.c.sudo("id -un", env={"PATH": f"{self.data['bin']}:/usr/bin:/bin"})
        self.add_msg(result)
        self.set_status(result.ok)
