"""Sessions that work on any Host, ready to use."""

from __future__ import annotations

from .base import Session
from .registry import SessionGroup
from .variants import CommandChainSession, CommandFormSession, SingleCommandSession

system_info = SessionGroup("System information")
commands = SessionGroup("Commands")


@system_info
class UptimeSession(SingleCommandSession):
    """How long the host is up and its load."""

    verbose_name = "uptime"
    work_on = ("Host",)
    command = "uptime"


@system_info
class HostnameSession(SingleCommandSession):
    """The host's name and kernel as the host itself reports them."""

    verbose_name = "hostname and kernel"
    work_on = ("Host",)
    command = "hostname; uname -srm"


@system_info
class DiskUsageSession(Session):
    """Disk usage of every mounted file system, as a table; warns from 90 % use."""

    verbose_name = "disk usage"
    work_on = ("Host",)
    warn_percent = 90

    def process(self) -> None:
        result = self.run("df -P -h")
        if not result.ok:
            self.add_msg(result, "error")
            self.set_status("error")
            return
        rows = [line.split(None, 5) for line in result.stdout.splitlines() if line.strip()]
        self.add_msg(rows)
        full = [row[5] for row in rows[1:]
                if len(row) == 6 and _percent(row[4]) >= self.warn_percent]
        if full:
            self.add_msg(f"{', '.join(full)} at or above {self.warn_percent}% use", "warning")
            self.set_status("warning")
        else:
            self.set_status("success")


@system_info
class MemorySession(SingleCommandSession):
    """Memory and swap use."""

    verbose_name = "memory"
    work_on = ("Host",)
    command = "free -m 2>/dev/null || cat /proc/meminfo"


@commands
class RunCommandSession(CommandFormSession):
    """Run any shell command typed into the form."""

    verbose_name = "run a command"
    work_on = ("Host",)
    confirm = True


@commands
class CheckShellSession(CommandChainSession):
    """Check that the login shell works and can write to the home directory."""

    verbose_name = "check shell and home"
    work_on = ("Host",)
    commands = ("true", "test -w ~ && echo writable home", "id")


def _percent(text: str) -> int:
    return int(text.rstrip("%")) if text.rstrip("%").isdigit() else 0
