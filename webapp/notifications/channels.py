"""Sending one message on one channel: SMTP, a signed webhook POST, a chat webhook.

Each sender returns an :class:`Answer` or raises :class:`DeliveryError` with what went
wrong (never a password: the SMTP login is the configuration's, and messages carry no
secret). A webhook's signing key is stored encrypted with a key derived from
``SECRET_KEY`` (it must be readable to sign with), shown once when made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from ..models import NotificationChannel
from . import messages

KINDS = {"email": "Email", "webhook": "Webhook (signed JSON)", "slack": "Slack / Mattermost"}
"""Channel kind → what the pages call it."""
SIGNATURE_HEADER = "X-Minke-Signature-256"
ANSWER_CHARS = 500


class DeliveryError(Exception):
    """A delivery attempt failed: the reason, and the server's status and answer if any."""

    def __init__(self, reason: str, status_code: int | None = None, answer: str = "") -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.answer = answer


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    text: str


def new_secret() -> str:
    """A webhook signing key (shown once; kept encrypted)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"minke-webhooks\0" + current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def seal_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def open_secret(sealed: str | None) -> str:
    """:raises DeliveryError: when the key cannot be read (``SECRET_KEY`` changed)."""
    try:
        return _fernet().decrypt((sealed or "").encode()).decode()
    except InvalidToken:
        raise DeliveryError("the webhook's signing key cannot be read (SECRET_KEY changed "
                            "since it was made): make a new secret on its page") from None


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not followed: urllib would repeat a POST as a GET without
    its body (and its signature would go to another address)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "minke-notifications", **headers})
    timeout = float(current_app.config["MINKE_NOTIFY_TIMEOUT"])
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # http(s) only: checked when made
            return Answer(response.status, response.read(ANSWER_CHARS).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        text = exc.read(ANSWER_CHARS).decode(errors="replace")
        raise DeliveryError(f"the server answered {exc.code} {exc.reason}", exc.code,
                            text) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"could not reach {url}: {reason}") from None


def send_webhook(channel: NotificationChannel, facts: dict[str, Any], delivery: str) -> Answer:
    body = json.dumps(messages.webhook_body(facts, delivery)).encode()
    return _post(channel.target, body, {
        SIGNATURE_HEADER: signature(open_secret(channel.sealed_secret), body),
        "X-Minke-Event": facts["event"], "X-Minke-Delivery": delivery})


def send_chat(channel: NotificationChannel, facts: dict[str, Any], delivery: str) -> Answer:
    return _post(channel.target, json.dumps(messages.chat_body(facts)).encode(), {})


def send_email(channel: NotificationChannel, facts: dict[str, Any], delivery: str) -> Answer:
    config = current_app.config
    if not config["MINKE_SMTP_HOST"]:
        raise DeliveryError("SMTP is not configured (MINKE_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = config["MINKE_SMTP_FROM"]
    message["To"] = channel.target
    message["Subject"] = messages.subject(facts)
    message["X-Minke-Delivery"] = delivery
    message.set_content(messages.email_text(facts))
    try:
        with smtplib.SMTP(config["MINKE_SMTP_HOST"], int(config["MINKE_SMTP_PORT"]),
                          timeout=float(config["MINKE_NOTIFY_TIMEOUT"])) as smtp:
            if config["MINKE_SMTP_STARTTLS"]:
                smtp.starttls()
            if config["MINKE_SMTP_USER"]:
                smtp.login(config["MINKE_SMTP_USER"], config["MINKE_SMTP_PASSWORD"])
            refused = smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        raise DeliveryError(f"the SMTP server refused: {exc.smtp_code}", exc.smtp_code,
                            text[:ANSWER_CHARS]) from None
    except (smtplib.SMTPException, OSError) as exc:
        # the exception's text names the server and the failure, never the password
        raise DeliveryError(f"SMTP: {exc}") from None
    if refused:
        raise DeliveryError(f"the SMTP server refused {', '.join(refused)}")
    return Answer(250, "accepted")


SENDERS = {"email": send_email, "webhook": send_webhook, "slack": send_chat}
