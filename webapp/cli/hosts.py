"""``minke host …`` and ``minke group …``: the inventory from the command line."""

from __future__ import annotations

import json
from typing import Any

import click
import paramiko
from flask import current_app
from flask.cli import AppGroup

from webapp import inventory
from webapp.engine.ssh import hostkeys
from webapp.engine.ssh.probe import accept_host_key
from webapp.extensions import db
from webapp.inventory import InventoryError
from webapp.models import Host

from .common import echo_table, fail_usage, usage_errors


def address(host: Host) -> str:
    """``user@hostname:port``, leaving out what is not set."""
    user = f"{host.username}@" if host.username else ""
    port = f":{host.port}" if host.port else ""
    return f"{user}{host.hostname}{port}"


@click.group("host", cls=AppGroup)
def host_cli() -> None:
    """Add, list, import, disable and remove hosts; accept or forget their SSH host keys."""


@host_cli.command("add")
@click.argument("name")
@click.option("--hostname", required=True, help="Host name or IP address to connect to.")
@click.option("--port", help="SSH port (1-65535); the SSH default when left out.")
@click.option("--username", help="User to log in as; the SSH/fabric default when left out.")
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="Put the host in GROUP (created when missing); repeat for more groups.",
)
@click.option("--config", help='Connection config as a JSON object, e.g. \'{"user": "deploy"}\'.')
@click.option("--comment", default="", help="Free text shown in the dashboard.")
@click.option("--verbose-name", default="", help="Display name; NAME when left out.")
def add_host(name: str, groups: tuple[str, ...], **fields: Any) -> None:
    """Add the host NAME (letters, digits, '.', '_', '-').

    Example: minke host add web1 --hostname 10.0.0.5 --port 2222 --group web
    """
    with usage_errors():
        created = inventory.missing_groups(inventory.parse_group_names(groups))
        host = inventory.add_host(name, groups=groups, **fields)
        added = f"Added host {host.name} ({address(host)})"
        db.session.commit()
    for group in created:
        click.echo(f"Created group {group}")
    click.echo(added)


@host_cli.command("list")
@click.option("--group", help="Only the hosts in this group.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with every field instead.")
def list_hosts(group: str | None, as_json: bool) -> None:
    """List hosts: name, address, groups and whether they are disabled."""
    with usage_errors():
        hosts = inventory.list_hosts(group)
    if as_json:
        click.echo(json.dumps([host_dict(host) for host in hosts], indent=2))
    elif not hosts:
        click.echo("No hosts." if group is None else f"No hosts in group {group}.")
    else:
        echo_table(
            ["NAME", "ADDRESS", "GROUPS", "DISABLED"],
            [
                [
                    h.name,
                    address(h),
                    ",".join(g.name for g in h.groups),
                    (f"yes: {h.disabled_reason}" if h.disabled_reason else "yes")
                    if h.disabled else "",
                ]
                for h in hosts
            ],
        )


def host_dict(host: Host) -> dict[str, object]:
    """The fields of ``host`` as ``host list --json`` prints them."""
    return {
        "name": host.name,
        "verbose_name": host.verbose_name,
        "hostname": host.hostname,
        "port": host.port,
        "username": host.username,
        "groups": [group.name for group in host.groups],
        "comment": host.comment,
        "config": host.config,
        "disabled": host.disabled,
        "disabled_reason": host.disabled_reason,
    }


@host_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
def import_hosts(file: str) -> None:
    """Add or update (by name) the hosts listed in FILE.

    \b
    FILE.csv has a header line, e.g.:
      name,hostname,port,username,groups,comment,verbose_name,config
      web1,10.0.0.5,22,deploy,web;prod,,Web server 1,"{""forward_agent"": true}"
    FILE.yaml (or .yml) is a list of mappings with the same keys:
      - name: web1
        hostname: 10.0.0.5
        groups: [web, prod]
        config: {forward_agent: true}

    Only name and hostname are required. Missing groups are created. When any
    row is bad nothing is imported and every bad line is listed.
    """
    with usage_errors():
        result = inventory.import_hosts(inventory.load_host_file(file))
        db.session.commit()
    click.echo(f"{len(result.added)} added, {len(result.updated)} updated")


@host_cli.command("remove")
@click.argument("name")
def remove_host(name: str) -> None:
    """Delete the host NAME (its past runs stay, without the host)."""
    with usage_errors():
        inventory.remove_host(name)
        db.session.commit()
    click.echo(f"Removed host {name}")


def _set_disabled(name: str, disabled: bool, reason: str = "") -> None:
    with usage_errors():
        inventory.set_disabled(inventory.get_host(name), disabled, reason)
        db.session.commit()
    click.echo(f"{'Disabled' if disabled else 'Enabled'} host {name}")


@host_cli.command("disable")
@click.argument("name")
@click.option("--reason", default="", help="Why: shown in the dashboard's lists and in the "
              "message of every session not run on the host.")
def disable_host(name: str, reason: str) -> None:
    """Disable the host NAME: sessions no longer run on it."""
    _set_disabled(name, True, reason)


@host_cli.command("enable")
@click.argument("name")
def enable_host(name: str) -> None:
    """Enable the host NAME again."""
    _set_disabled(name, False)


@host_cli.command("accept-key")
@click.argument("name")
@click.option("--fingerprint", "expect", metavar="SHA256:…",
              help="Accept the key only if it has this fingerprint (e.g. the one a failed "
                   "session reported).")
@click.option("--key", "given", metavar="TEXT",
              help='The public key itself ("ssh-ed25519 AAAA…", an ssh-keyscan line) instead '
                   "of the one the host presents now.")
def accept_key(name: str, expect: str | None, given: str | None) -> None:
    """Trust the SSH host key that host NAME presents now (or --key) from now on.

    Use it after a session failed with "host key of NAME changed" when the
    change is expected (the host was reinstalled), or to trust a new host
    when MINKE_HOST_KEY_POLICY is strict.
    """
    with usage_errors():
        host = inventory.get_host(name)
        try:
            old, new = accept_host_key(host, current_app.config, expect=expect, given=given)
        except (hostkeys.HostKeyError, OSError, paramiko.SSHException) as exc:
            raise InventoryError(f"{name}: {exc}") from None
        db.session.commit()
    before = hostkeys.fingerprint(old) if old else "none"
    if old == new:
        click.echo(f"{name}: host key {hostkeys.fingerprint(new)} was already accepted")
    else:
        click.echo(f"{name}: accepted host key {hostkeys.fingerprint(new)} (was {before})")


@host_cli.command("forget-key")
@click.argument("name")
def forget_key(name: str) -> None:
    """Forget the stored SSH host key of host NAME: the next connection stores the key the
    host presents (MINKE_HOST_KEY_POLICY accept-new) or is refused until accept-key (strict)."""
    with usage_errors():
        host = inventory.get_host(name)
        old = host.host_key
        hostkeys.set_key(host, None)
        db.session.commit()
    click.echo(f"{name}: forgot host key {hostkeys.fingerprint(old)}" if old
               else f"{name}: no host key was stored")


@click.group("group", cls=AppGroup)
def group_cli() -> None:
    """Add and list host groups, whose config their hosts inherit."""


_ASK_SECRET_HELP = ("Ask for this secret before every run on the group's hosts (repeatable): "
                    "ssh_key_passphrase, ssh_password or sudo_password. Never stored.")


@group_cli.command("add")
@click.argument("name")
@click.option("--config", help='Config its hosts inherit, a JSON object: \'{"user": "deploy"}\'.')
@click.option("--comment", default="", help="Free text shown in the dashboard.")
@click.option("--ask-secret", "ask_secrets", multiple=True, metavar="SECRET",
              help=_ASK_SECRET_HELP)
def add_group(name: str, config: str | None, comment: str, ask_secrets: tuple[str, ...]) -> None:
    """Add the host group NAME."""
    with usage_errors():
        group = inventory.add_group(name, config=config, comment=comment)
        if ask_secrets:
            inventory.set_group_secrets(group, ask_secrets)
        db.session.commit()
    click.echo(f"Added group {name}")


@group_cli.command("edit")
@click.argument("name")
@click.option("--ask-secret", "ask_secrets", multiple=True, metavar="SECRET",
              help=_ASK_SECRET_HELP + " Replaces the secrets the group asks for.")
@click.option("--no-secrets", is_flag=True, help="Ask for no secret any more.")
def edit_group(name: str, ask_secrets: tuple[str, ...], no_secrets: bool) -> None:
    """Change what the host group NAME asks for before a run on its hosts.

    Example: minke group edit db --ask-secret sudo_password
    """
    if ask_secrets and no_secrets:
        fail_usage("give --ask-secret or --no-secrets, not both")
    if not (ask_secrets or no_secrets):
        fail_usage("nothing to change: give --ask-secret SECRET or --no-secrets")
    with usage_errors():
        group = inventory.set_group_secrets(inventory.get_group(name), ask_secrets)
        asked = ", ".join(group.ask_secrets) or "no secret"
        db.session.commit()
    click.echo(f"Group {name} asks for {asked} before a run")


@group_cli.command("list")
def list_groups() -> None:
    """List host groups with their number of hosts and their config."""
    groups = inventory.list_groups()
    if not groups:
        click.echo("No host groups.")
        return
    echo_table(
        ["NAME", "HOSTS", "CONFIG", "SECRETS", "COMMENT"],
        [[g.name, len(g.hosts), json.dumps(g.config, sort_keys=True),
          ",".join(g.ask_secrets or ()), g.comment] for g in groups],
    )
