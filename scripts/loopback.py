"""Real services on loopback addresses for tests, benchmarks and the demo.

:class:`LoopbackSSHD` runs real OpenSSH servers that make N loopback
addresses (127.0.0.2, 127.0.0.3, …) look like N distinct SSH hosts;
:func:`ensure_redis` finds or starts a Redis server::

    with LoopbackSSHD(20, workdir) as sshd:
        Connection(sshd.addresses[0], port=sshd.port, user=sshd.user,
                   connect_kwargs=sshd.connect_kwargs).run("hostname")
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

log = logging.getLogger(__name__)

SSHD = "/usr/sbin/sshd"  # sshd re-executes itself, so it needs an absolute path
# the login user when running as root (root's ~/.bashrc is slow); scripts/test gives each
# database's pass its own, so that the passes can run side by side (a test that looks for
# its remote processes by user sees only its own)
SSH_USER = os.environ.get("MINKE_LOOPBACK_USER", "minke-ssh")
MAX_LISTEN_SOCKS = 16  # OpenSSH refuses more ListenAddress entries per process
PORT_RANGE = (20000, 32767)  # below Linux's ephemeral range: outgoing sockets never take it

SSHD_CONFIG = """\
{listen}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PermitRootLogin {permit_root}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 1000:30:1000
MaxSessions 100
LogLevel ERROR
UseDNS no
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
"""


def loopback_addresses(n: int, first: int = 2) -> list[str]:
    """``n`` addresses of 127.0.0.0/8 from 127.0.0.<first> on, skipping .0 and .255."""
    addresses: list[str] = []
    value = first
    while len(addresses) < n:
        if value & 0xFF not in (0, 255):
            addresses.append(f"127.{value >> 16 & 0xFF}.{value >> 8 & 0xFF}.{value & 0xFF}")
        value += 1
    return addresses


def port_is_free(port: int, addresses: list[str]) -> bool:
    """True when a server (SO_REUSEADDR, as sshd, Redis and gunicorn use) can listen on
    ``port`` on every one of ``addresses``: connections in TIME_WAIT do not count."""
    for address in addresses:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def free_port(addresses: list[str] | None = None, attempts: int = 200) -> int:
    """A random TCP port free on all ``addresses`` (default 127.0.0.1)."""
    addresses = addresses or ["127.0.0.1"]
    for _ in range(attempts):
        port = random.randint(*PORT_RANGE)
        if port_is_free(port, addresses):
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE} on {len(addresses)} addresses")


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """SIGTERM ``proc``, wait up to ``timeout`` seconds, then SIGKILL it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login_user() -> str:
    """The user the loopback hosts are logged in as; creates ``minke-ssh`` as root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(SSH_USER)
    except KeyError:
        log.info("creating user %s", SSH_USER)
        _retry(["useradd", "-m", "-s", "/bin/sh", SSH_USER], done=lambda: _user_exists(SSH_USER))
    if _password_field(SSH_USER).startswith("!"):  # sshd without PAM refuses locked accounts
        _retry(["usermod", "-p", "*", SSH_USER], done=lambda: _password_field(SSH_USER) == "*")
    return SSH_USER


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _password_field(name: str) -> str:
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields[1]
    return ""


def _retry(cmd: list[str], done: Any, attempts: int = 20) -> None:
    """Run ``cmd`` until ``done()``: useradd/usermod fail while another process locks passwd."""
    for _ in range(attempts):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode == 0 or done():
            return
        time.sleep(0.25)
    raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")


def _traversable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may reach files in ``path`` (approximation: primary group only)."""
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            bit = 0o100
        elif st.st_gid == user.pw_gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


class LoopbackSSHD:
    """Real sshd processes serving ``n_hosts`` loopback addresses as distinct hosts.

    One sshd per 16 addresses (OpenSSH's limit), all sharing one host key,
    one client key pair and one configuration template in ``workdir``.
    Keys already in ``workdir`` are reused. Use as a context manager or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, n_hosts: int, workdir: Path, first_address: int = 2, port: int | None = None,
        *, idle_priority: bool = False,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        # the servers (and their sessions) at the idle scheduling priority: stand-ins for
        # other machines, whose CPU should not come out of the processes measured beside
        # them (niceness is not enough: a hundred niced processes outweigh one at 0)
        self.idle_priority = idle_priority
        self.addresses: list[str] = loopback_addresses(n_hosts, first_address)
        self.port: int | None = port
        self.user: str = ""
        self.key_filename = str(self.workdir / "client_ed25519")
        self.processes: list[subprocess.Popen] = []
        self._keys_copy: Path | None = None

    @property
    def connect_kwargs(self) -> dict[str, Any]:
        """paramiko arguments: this instance's client key and nothing else."""
        return {"key_filename": [self.key_filename], "look_for_keys": False, "allow_agent": False}

    def host_config(self) -> dict[str, Any]:
        """The fabric configuration a ``Host`` row needs to reach these servers."""
        return {"connect_kwargs": self.connect_kwargs}

    def __enter__(self) -> LoopbackSSHD:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> LoopbackSSHD:
        """Start the servers and wait until every address accepts SSH connections."""
        self.user = login_user()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        host_key = self.workdir / "host_ed25519"
        for key in (host_key, Path(self.key_filename)):
            if not key.exists():
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "minke-loopback",
                     "-f", str(key)], check=True, capture_output=True,
                )
        authorized_keys = self._write_authorized_keys(Path(self.key_filename + ".pub").read_text())
        if self.port is None:
            self.port = free_port(self.addresses)
        chunks = [self.addresses[i:i + MAX_LISTEN_SOCKS]
                  for i in range(0, len(self.addresses), MAX_LISTEN_SOCKS)]
        for index, chunk in enumerate(chunks):
            config = self.workdir / f"sshd_config.{index}"
            config.write_text(SSHD_CONFIG.format(
                listen="\n".join(f"ListenAddress {a}:{self.port}" for a in chunk),
                host_key=host_key, pid_file=self.workdir / f"sshd.{index}.pid",
                authorized_keys=authorized_keys, user=self.user,
                permit_root="yes" if self.user == "root" else "no",
            ))
            with open(self.workdir / f"sshd.{index}.log", "wb") as stderr:
                idle = ["chrt", "--idle", "0"] if self.idle_priority else []
                self.processes.append(subprocess.Popen(
                    [*idle, SSHD, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                ))
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("sshd serving %d hosts from %s on port %d as %s",
                 len(self.addresses), self.addresses[0], self.port, self.user)
        return self

    def stop(self) -> None:
        """Stop every sshd process (open sessions are cut) and remove copied keys."""
        for proc in self.processes:
            stop_process(proc)
        self.processes.clear()
        if self._keys_copy is not None:
            shutil.rmtree(self._keys_copy, ignore_errors=True)
            self._keys_copy = None

    def _write_authorized_keys(self, public_key: str) -> Path:
        """authorized_keys where the login user can read it (sshd reads it as that user).

        A workdir under a private directory (pytest's 0700 ``/tmp/pytest-of-root``) is
        out of the login user's reach: then the file goes to the user's home instead.
        """
        user = pwd.getpwnam(self.user)
        directory = self.workdir
        if not _traversable_by(directory, user):
            digest = hashlib.sha256(str(self.workdir).encode()).hexdigest()[:16]
            directory = self._keys_copy = Path(user.pw_dir) / ".minke-loopback" / digest
            directory.mkdir(parents=True, exist_ok=True)
            for path in (directory, directory.parent):
                path.chmod(0o755)
        path = directory / "authorized_keys"
        path.write_text(public_key)
        path.chmod(0o644)
        return path

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.addresses)
        while pending:
            for index, proc in enumerate(self.processes):
                if proc.poll() is not None:
                    raise RuntimeError(f"sshd exited with status {proc.returncode}: "
                                       f"{self._stderr(index)}")
            if _ssh_banner(pending[0], self.port or 0):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                logs = " | ".join(self._stderr(i) for i in range(len(self.processes)))
                raise RuntimeError(
                    f"sshd did not accept connections on {pending[0]}:{self.port} within "
                    f"{timeout:.0f} s; sshd said: {logs or '(nothing)'}"
                )
            time.sleep(0.05)

    def _stderr(self, index: int) -> str:
        path = self.workdir / f"sshd.{index}.log"
        return path.read_text(errors="replace").strip() if path.exists() else ""


def _ssh_banner(address: str, port: int) -> bool:
    """True when an SSH server answers at ``address:port``."""
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def ensure_redis(url: str, workdir: Path) -> tuple[str, subprocess.Popen | None]:
    """``url`` if a Redis answers there, else a new server's URL (same db) and its process.

    The new server binds 127.0.0.1 on a free port, keeps nothing on disk and
    works in ``workdir``. Stop it with :func:`stop_process`.
    """
    if _redis_answers(url):
        return url, None
    port = free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    parts = urlsplit(url)  # the new server has no password: drop credentials
    new_url = urlunsplit(("redis", f"127.0.0.1:{port}", parts.path, parts.query, ""))
    deadline = time.monotonic() + 10
    while not _redis_answers(new_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"redis-server on port {port} did not start "
                               f"(exit status {proc.returncode})")
        time.sleep(0.05)
    log.info("started redis-server at %s (nothing answered at %s)", new_url, url)
    return new_url, proc


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()
