"""The shared budget store in Redis: the keys of each budget and the two scripts that change them.

Every budget has four keys under ``PREFIX:{NAME}:`` (the braces are a Redis Cluster hash tag, so
one budget's keys live in one slot and its scripts run there):

- ``spent``: a hash, one field per bucket (the window's start for a calendar window, the hour
  number for a rolling one) holding whole units (nano-dollars, or tokens);
- ``leases``: a sorted set of the reservations in flight, scored by when they expire (server time);
- ``held``: a hash, reservation id -> amount it holds;
- ``reserved``: the sum of ``held`` (kept by the scripts, so a check never adds it up).

``reserve`` (before a call) and ``settle`` (after it) are one script each, run atomically by the
server in one round trip. Expired leases are dropped by whichever script runs next, so the
reservations of a process that died go away by themselves.

redis-py is imported only here, and this module only when a store is configured.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RedisStore", "ReserveResult", "StoreUnavailable", "safe_url"]

_RESERVE = """
local spent_key, leases, held, reserved_key, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local oldest, limit, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local precheck, lease_id, lease_ms = ARGV[4] == '1', ARGV[5], tonumber(ARGV[6])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reserved = tonumber(redis.call('GET', reserved_key) or '0')
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now_ms)
for _, id in ipairs(expired) do
  reserved = reserved - tonumber(redis.call('HGET', held, id) or '0')
  redis.call('HDEL', held, id)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now_ms)
  redis.call('SET', reserved_key, reserved)
end
local spent = 0
local fields = redis.call('HGETALL', spent_key)
for i = 1, #fields, 2 do
  if tonumber(fields[i]) < oldest then
    redis.call('HDEL', spent_key, fields[i])
  else
    spent = spent + tonumber(fields[i + 1])
  end
end
local fresh = 0
if redis.call('EXISTS', seen) == 0 then
  redis.call('SET', seen, '1')
  fresh = 1
end
local admitted = 0
if spent < limit then
  if not precheck then
    admitted = 1
  elseif spent + reserved < limit and spent + reserved + amount <= limit then
    admitted = 1
  end
end
if admitted == 1 and lease_id ~= '' then
  redis.call('ZADD', leases, now_ms + lease_ms, lease_id)
  redis.call('HSET', held, lease_id, amount)
  reserved = reserved + amount
  redis.call('SET', reserved_key, reserved)
  redis.call('PEXPIRE', leases, lease_ms * 2)
  redis.call('PEXPIRE', held, lease_ms * 2)
  redis.call('PEXPIRE', reserved_key, lease_ms * 2)
end
return {admitted, spent, math.max(reserved, 0), redis.call('ZCARD', leases), fresh}
"""

_SETTLE = """
local spent_key, leases, held, reserved_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lease_id, amount, bucket, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
if lease_id ~= '' and redis.call('ZREM', leases, lease_id) == 1 then
  local holds = tonumber(redis.call('HGET', held, lease_id) or '0')
  redis.call('HDEL', held, lease_id)
  redis.call('SET', reserved_key, tonumber(redis.call('GET', reserved_key) or '0') - holds, 'KEEPTTL')
end
if amount > 0 and bucket ~= '' then
  redis.call('HINCRBY', spent_key, bucket, amount)
  if redis.call('TTL', spent_key) < ttl then
    redis.call('EXPIRE', spent_key, ttl)
  end
end
return 1
"""

_SEED = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return 1
"""

_SCRIPTS = {name: (text, hashlib.sha1(text.encode()).hexdigest()) for name, text in (
    ("reserve", _RESERVE),
    ("settle", _SETTLE),
    ("seed", _SEED),
)}  # fmt: skip


class StoreUnavailable(Exception):
    """The store did not answer in time, refused the connection, or answered with an error."""


def safe_url(url: str) -> str:
    """The URL with any password replaced by ``***``: what messages and logs show."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return f"{url.partition('://')[0]}://***"


@dataclass(frozen=True)
class ReserveResult:
    admitted: bool
    spent: int
    reserved: int
    in_flight: int
    fresh: bool


@dataclass(frozen=True)
class Op:
    """One script run on one budget's keys."""

    script: str
    keys: tuple[str, ...]
    args: tuple[object, ...]


class RedisStore:
    """A connection pool to one Redis and the scripts above; every method is one round trip.

    No call waits longer than ``timeout`` per round trip (connect included), and nothing is
    retried here: an error is `StoreUnavailable`, and the budgets decide what the call gets.
    """

    def __init__(self, url: str, *, prefix: str, timeout: float, password: str | None = None) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ImportError(
                "budget_store needs the redis client: pip install 'tokentrace[redis]'"
            ) from None
        self.url = safe_url(url)
        self.prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._noscript: type[BaseException] = redis.exceptions.NoScriptError
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        if password is not None:
            options["password"] = password
        self._client: Any = redis.Redis.from_url(url, **options)

    def keys(self, budget_name: str) -> tuple[str, str, str, str, str]:
        base = f"{self.prefix}:{{{budget_name}}}:"
        return base + "spent", base + "leases", base + "held", base + "reserved", base + "seen"

    def run(self, ops: Sequence[Op]) -> list[Any]:
        """Run the scripts in one pipelined round trip; loads them once if the server lost them."""
        try:
            try:
                return self._send(ops)
            except self._noscript:
                for text, _sha in _SCRIPTS.values():
                    self._client.script_load(text)
                return self._send(ops)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _send(self, ops: Sequence[Op]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for op in ops:
            pipe.execute_command("EVALSHA", _SCRIPTS[op.script][1], len(op.keys), *op.keys, *op.args)
        return list(pipe.execute())

    @staticmethod
    def reserve_result(raw: Any) -> ReserveResult:
        admitted, spent, reserved, in_flight, fresh = raw
        return ReserveResult(bool(admitted), int(spent), int(reserved), int(in_flight), bool(fresh))

    def close(self) -> None:
        self._client.close()
