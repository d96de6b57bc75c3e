"""The data model; import models from here."""

from .audit import ApiToken, AuditEntry
from .auth import ADMIN_PERMISSION, BUILTIN_PERMISSIONS, Permission, Role, User
from .base import Base, Installation, utcnow
from .hosts import MINKE_MODELS, Host, HostGroup, MinkeModel
from .runs import CommandResult, LatestSession, Message, MinkeSession, OutputChunk, Run

__all__ = [
    "ADMIN_PERMISSION",
    "ApiToken",
    "AuditEntry",
    "BUILTIN_PERMISSIONS",
    "MINKE_MODELS",
    "Base",
    "CommandResult",
    "Host",
    "HostGroup",
    "Installation",
    "LatestSession",
    "Message",
    "MinkeModel",
    "MinkeSession",
    "OutputChunk",
    "Permission",
    "Role",
    "Run",
    "User",
    "utcnow",
]
