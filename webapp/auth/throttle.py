"""Login throttling: failed attempts counted per user name and per client address in Redis,
so that every web process of an installation shares the counts.

After ``MINKE_LOGIN_USER_LIMIT`` failures for one user name (default 5) or
``MINKE_LOGIN_ADDRESS_LIMIT`` failures from one address (default 20) within
``MINKE_LOGIN_WINDOW`` seconds (default 900) of the first one, every attempt
for that name or from that address is refused, even with the right password,
until the window ends. A successful login clears its user name's count (not
the address's: one good account must not reset a guesser's budget).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis import Redis


@dataclass(frozen=True)
class Throttled:
    """Why an attempt is refused, and for how many more seconds."""

    what: str  # "user" or "address"
    retry_after: int


class LoginThrottle:
    """Failure counters under ``prefix`` in ``redis``; the limits are per window of seconds."""

    def __init__(self, redis: Redis, prefix: str, *, user_limit: int = 5,
                 address_limit: int = 20, window: int = 900) -> None:
        self.redis = redis
        self.prefix = prefix
        self.user_limit = user_limit
        self.address_limit = address_limit
        self.window = window

    def _user_key(self, name: str) -> str:
        # hashed: user names typed by strangers never become Redis key text
        digest = hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]
        return f"{self.prefix}login:user:{digest}"

    def _address_key(self, address: str) -> str:
        return f"{self.prefix}login:address:{address}"

    def check(self, name: str, address: str) -> Throttled | None:
        """Whether an attempt for ``name`` from ``address`` is refused now.

        :raises redis.RedisError: when Redis cannot be asked.
        """
        user_key, address_key = self._user_key(name), self._address_key(address)
        with self.redis.pipeline(transaction=False) as pipe:
            (pipe.get(user_key)  # type: ignore[union-attr]  # redis-py: returns the pipeline
             .ttl(user_key).get(address_key).ttl(address_key))
            user_count, user_ttl, address_count, address_ttl = pipe.execute()
        if int(user_count or 0) >= self.user_limit:
            return Throttled("user", max(int(user_ttl), 1))
        if int(address_count or 0) >= self.address_limit:
            return Throttled("address", max(int(address_ttl), 1))
        return None

    def failed(self, name: str, address: str) -> None:
        """Count a failed attempt; a counter's window starts at its first failure."""
        with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._user_key(name), self._address_key(address)):
                (pipe.incr(key)  # type: ignore[attr-defined]  # redis-py: returns the pipeline
                 .expire(key, self.window, nx=True))
            pipe.execute()

    def succeeded(self, name: str) -> None:
        """Forget the failures of ``name``."""
        self.redis.delete(self._user_key(name))
