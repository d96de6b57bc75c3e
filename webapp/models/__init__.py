"""The data model; import models from here."""

from .audit import ApiToken, AuditEntry
from .auth import ADMIN_PERMISSION, BUILTIN_PERMISSIONS, Permission, Role, User
from .base import Base, Installation, utcnow
from .commands import Command, CommandGroup, CommandOrder, CommandRevision
from .hosts import MINKE_MODELS, Host, HostGroup, MinkeModel
from .logins import LoginSession
from .notifications import Delivery, NotificationChannel, Subscription
from .runs import LatestSession, Message, MinkeSession, OutputChunk, Run, StoredResult
from .schedules import Schedule, ScheduleFiring

__all__ = [
    "ADMIN_PERMISSION",
    "ApiToken",
    "AuditEntry",
    "BUILTIN_PERMISSIONS",
    "MINKE_MODELS",
    "Base",
    "Command",
    "CommandGroup",
    "CommandOrder",
    "CommandRevision",
    "Delivery",
    "StoredResult",
    "Host",
    "HostGroup",
    "Installation",
    "LatestSession",
    "LoginSession",
    "Message",
    "NotificationChannel",
    "MinkeModel",
    "MinkeSession",
    "OutputChunk",
    "Permission",
    "Role",
    "Run",
    "Subscription",
    "Schedule",
    "ScheduleFiring",
    "User",
    "utcnow",
]
