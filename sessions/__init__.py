"""Minke's session framework: the classes your sessions are built from.

Example::

    from sessions import SingleCommandSession

    class Uptime(SingleCommandSession):
        work_on = ("Host",)
        command = "uptime"
"""

from .base import Session, SessionRegistration, camel_case_to_spaces
from .errors import (
    CommandFormatError,
    InvalidMinkeSetup,
    MinkeError,
    SessionError,
    SessionRegistrationError,
    SessionStopped,
)
from .forms import CommandForm
from .messages import (
    BaseMessage,
    ExceptionMessage,
    ExecutionMessage,
    Message,
    PreMessage,
    TableMessage,
    TextMessage,
)
from .record import MemoryRecord, SessionRecord
from .registry import REGISTRY, SessionGroup, SessionRegistry, UnknownSession
from .results import CommandResult
from .status import MessageLevel, ProcStatus, SessionStatus
from .variants import CommandChainSession, CommandFormSession, SessionChain, SingleCommandSession

__all__ = [
    "REGISTRY",
    "BaseMessage",
    "CommandChainSession",
    "CommandForm",
    "CommandFormSession",
    "CommandFormatError",
    "CommandResult",
    "ExceptionMessage",
    "ExecutionMessage",
    "InvalidMinkeSetup",
    "MemoryRecord",
    "Message",
    "MessageLevel",
    "MinkeError",
    "PreMessage",
    "ProcStatus",
    "Session",
    "SessionChain",
    "SessionError",
    "SessionGroup",
    "SessionRecord",
    "SessionRegistration",
    "SessionRegistrationError",
    "SessionRegistry",
    "SessionStatus",
    "SessionStopped",
    "SingleCommandSession",
    "TableMessage",
    "TextMessage",
    "UnknownSession",
    "camel_case_to_spaces",
]
