"""Scoped API keys and per-key rate limits.

A key is `lt_<id>_<secret>`: the id is public (it names the key in logs and in the store's `key_id`
columns), the secret is 32 random bytes. The store keeps sha256(secret) only: the secret has 256 bits of
entropy, so a slow password hash would add latency and no safety. A presented key is looked up by its
id and its hash compared with `hmac.compare_digest` (constant time).

Scopes: `write` (the assistant: log, feedback, proxy), `read` (dashboards: logs, stats, metrics, job and
dataset status), `admin` (workflow, dataset preparation, retention; implies read and write). A revoked
key fails like an unknown one. Not for user accounts: keys belong to services.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from logtune.store import Store, now_iso

SCOPES = ("write", "read", "admin")
PREFIX = "lt_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str, scopes: list[str]) -> str:
    """Store a new key and return it in full (the only time the secret is shown)."""
    bad = sorted(set(scopes) - set(SCOPES))
    if not scopes or bad:
        raise ValueError(f"scopes must be some of {SCOPES}, got {scopes}")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    store.transaction(lambda c: c.execute(
        "INSERT INTO api_keys (id, name, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, name, ",".join(sorted(set(scopes))), _hash(secret), now_iso())))
    return f"{PREFIX}{key_id}_{secret}"


def revoke_key(store: Store, key_id: str) -> bool:
    def revoke(c):
        return c.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (now_iso(), key_id)).rowcount
    return bool(store.transaction(revoke))


def list_keys(store: Store) -> list[dict]:
    return store.query_dicts("SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at")


class KeyRing:
    """Verifies presented keys against the store; verified keys are cached for `ttl_s` (revocation latency)."""

    def __init__(self, store: Store, ttl_s: float = 30.0):
        self.store, self.ttl_s = store, ttl_s
        self._cache: dict[str, tuple[float, str, ApiKey]] = {}
        self._lock = threading.Lock()

    def _load(self, key_id: str) -> tuple[str, ApiKey] | None:
        rows = self.store.query("SELECT name, scopes, secret_hash FROM api_keys WHERE id = ? AND revoked_at IS NULL",
                                (key_id,))
        if not rows:
            return None
        name, scopes, digest = rows[0]
        return digest, ApiKey(key_id, name, frozenset(scopes.split(",")))

    def verify(self, presented: str | None) -> ApiKey | None:
        if not presented or not presented.startswith(PREFIX) or len(presented) > 200:
            return None
        key_id, _, secret = presented[len(PREFIX):].partition("_")
        if not key_id or not secret:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is None or now - hit[0] > self.ttl_s:
            loaded = self._load(key_id)
            if loaded is None:
                _hash(secret)   # same work as a known id, so timing does not tell which ids exist
                with self._lock:
                    self._cache.pop(key_id, None)
                return None
            hit = (now, *loaded)
            with self._lock:
                self._cache[key_id] = hit
        _, digest, key = hit
        return key if hmac.compare_digest(_hash(secret), digest) else None


class RateLimiter:
    """A token bucket per key: `rate` requests per second sustained, bursts up to `burst`."""

    def __init__(self, rate: float | None, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: str) -> tuple[bool, float]:
        """(allowed, seconds until the next token) for one request."""
        if not self.rate:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key_id] = (tokens, now)
            return False, (1.0 - tokens) / self.rate
