"""The backend registry: address rules, entries, and ``Federation`` (WIRE.md §4).

Address rules: ``http://`` or ``https://``, a non-empty host that is not the unspecified address, a valid
port, an optional path prefix; no credentials, query or fragment.  Addresses are compared after
normalisation (scheme and host lowercased, default port and trailing ``/`` dropped).

``Federation`` owns the entries and their monitors.  Hostnames are learned from each backend and must be
unique (case-insensitively) and differ from ours; a clash rejects the newcomer with an ``error`` naming
the entry that holds the name.  Config-file backends that cannot be registered (a bad address or an
``ip_access`` refusal) still appear, as ``rejected`` entries with the reason in ``error``, so the operator
sees them in ``GET /servers``; duplicates in the file are skipped and listed in ``Federation.problems``.

Events: ``server_health`` (the entry's ``to_json()``) whenever health, hostname, server_id, sessions or
error change (not for every latency sample); ``server_removed`` (``hostname``, ``address``) on removal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import HealthTimeout, InvalidRequest, ServerAlreadyRegistered, ServerNotFound, ServerUnavailable
from ..events import EventBus
from .client import BackendClient
from .ip_access import IpAccess
from .monitor import Health, HealthSettings, Monitor

if TYPE_CHECKING:
    from .config import FederationConfig

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


def normalize_address(address: object) -> str:
    """Check a backend address and return its normal form; ``InvalidRequest`` says what to write."""
    if not isinstance(address, str) or not address.strip():
        raise InvalidRequest("missing backend address: write e.g. 'http://10.0.1.10:8080'")
    raw = address.strip()
    if "://" not in raw:
        raise InvalidRequest(
            f"backend address {raw!r} has no scheme: write 'http://{raw}' (or 'https://{raw}')"
        )
    scheme = raw.split("://", 1)[0].lower()
    if scheme not in _DEFAULT_PORTS:
        rest = raw.split("://", 1)[1]
        raise InvalidRequest(
            f"backend address {raw!r} uses {scheme}://; only http:// and https:// work: write 'http://{rest}'"
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(
            f"backend address {raw!r} is malformed ({exc}): write 'http://host:port', port 1-65535"
        ) from None
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(f"backend address {raw!r} holds credentials: pass the token separately")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise InvalidRequest(f"backend address {raw!r} has a query or fragment: drop everything after ? or #")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidRequest(f"backend address {raw!r} has no host: write e.g. 'http://10.0.1.10:8080'")
    if port == 0:
        raise InvalidRequest(f"backend address {raw!r} has port 0: give the port the backend listens on")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
        if not set(host) <= _HOST_CHARS or ".." in host or host.startswith(".") or len(host) > 253:
            raise InvalidRequest(f"backend address {raw!r} has an invalid host {host!r}") from None
    if ip is not None and ip.is_unspecified:
        raise InvalidRequest(
            f"backend address {raw!r} is the unspecified address {host}, which no one can connect to: "
            "use 127.0.0.1 (or ::1) or the backend's real address"
        )
    netloc = f"[{host}]" if ip is not None and ip.version == 6 else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


class BackendEntry:
    """One registered backend.  Mutated only on the hub's loop; ``to_json`` is the wire shape."""

    def __init__(self, address: str, *, token: str | None, client: BackendClient) -> None:
        self.address = address
        self.hostname: str | None = None
        self.health = Health.CONNECTING
        self.server_id: str | None = None
        self._sessions: int | None = None
        self.latency_ms: float | None = None
        self.last_seen: float | None = None
        self.error: str | None = None
        self.client = client
        self._token = token  # the per-server token as configured (None: default_token); never shown
        self._on_change: Any = None

    def __repr__(self) -> str:
        return f"<BackendEntry {self.label} {self.address} {self.health.value}>"

    @property
    def label(self) -> str:
        return self.hostname or self.address

    @property
    def sessions(self) -> int | None:
        return self._sessions

    @sessions.setter
    def sessions(self, value: int | None) -> None:
        if value != self._sessions:
            self._sessions = value
            if self._on_change is not None:
                self._on_change(self)

    def to_json(self) -> dict[str, Any]:
        last_seen_ms = None
        if self.last_seen is not None:
            last_seen_ms = max(0, int((time.monotonic() - self.last_seen) * 1000))
        return {
            "hostname": self.hostname,
            "address": self.address,
            "health": self.health.value,
            "role": "member",
            "server_id": self.server_id,
            "sessions": self._sessions,
            "latency_ms": self.latency_ms,
            "last_seen_ms": last_seen_ms,
            "error": self.error,
        }


def _describe(entry: BackendEntry) -> str:
    text = f"{entry.label} is {entry.health.value}"
    return f"{text} ({entry.error})" if entry.error else text


_ADVICE = {
    Health.CONNECTING: "it is still connecting: wait for it (wait_healthy) and retry",
    Health.UNAVAILABLE: "it reconnects by itself once the backend is reachable again; check that it runs",
    Health.REJECTED: "remove it, fix the backend (address or --hostname) and add it again",
}


class Federation:
    """Registered backends, their health monitors and clients (see the module docstring)."""

    def __init__(
        self,
        *,
        own_hostname: str,
        own_server_id: str,
        events: EventBus,
        settings: HealthSettings = HealthSettings(),  # noqa: B008  (frozen, shared safely)
        default_token: str | None = None,
        ip_access: IpAccess | None = None,
        config: FederationConfig | None = None,
    ) -> None:
        self.own_hostname = own_hostname
        self.own_server_id = own_server_id
        self.events = events
        self.settings = settings
        self.config = config
        cfg_token = config.default_token if config else None
        cfg_ip = config.ip_access if config else None
        self._explicit_token = default_token if default_token not in (None, cfg_token) else None
        self._explicit_ip = ip_access if ip_access is not None and ip_access is not cfg_ip else None
        self.default_token = default_token if default_token is not None else cfg_token
        self.ip_access = ip_access if ip_access is not None else cfg_ip
        self.problems: list[str] = []  # config entries that could not be registered, for the caller
        self._entries: dict[str, BackendEntry] = {}
        self._monitors: dict[str, Monitor] = {}
        self._published: dict[str, tuple[Any, ...]] = {}
        self._change = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Federation {self.own_hostname} backends={len(self._entries)}>"

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Register the config file's backends (see the module docstring) and start their monitors."""
        if self.config is None:
            return
        for address, token in self.config.servers:
            await self._register_configured(address, token)

    async def aclose(self) -> None:
        entries = list(self._entries.values())
        self._entries.clear()
        await asyncio.gather(*(self._stop(e) for e in entries), return_exceptions=True)

    # -- internals ------------------------------------------------------------------------------
    def _token_for(self, token: str | None) -> str | None:
        return token or self.default_token

    def _new_client(self, entry_address: str, token: str | None) -> BackendClient:
        return BackendClient(
            entry_address,
            token=self._token_for(token),
            connect_timeout=self.settings.connect_timeout,
            request_timeout=self.settings.request_timeout,
        )

    def _bind(self, entry: BackendEntry) -> None:
        entry._on_change = self._changed
        entry.client.on_protocol_error = lambda message: self._protocol_error(entry, message)

    def _protocol_error(self, entry: BackendEntry, message: str) -> None:
        entry.error = message
        self._changed(entry)

    def _changed(self, entry: BackendEntry) -> None:
        if self._entries.get(entry.address) is entry:
            key = (entry.health, entry.hostname, entry.server_id, entry.sessions, entry.error)
            if self._published.get(entry.address) != key:
                self._published[entry.address] = key
                self.events.publish("server_health", **entry.to_json())
        self._change.set()
        self._change = asyncio.Event()

    def _identity_problem(self, entry: BackendEntry, info: dict[str, Any]) -> str | None:
        server_id, hostname = info["server_id"], info["hostname"]
        if server_id == self.own_server_id:
            return f"self-loop: {entry.address} is this server itself (server_id {server_id})"
        if hostname.lower() == self.own_hostname.lower():
            return (
                f"backend hostname {hostname!r} is this hub's own hostname: "
                "start the backend with a different --hostname"
            )
        for other in self._entries.values():
            if other is entry:
                continue
            if other.server_id == server_id and other.health is not Health.REJECTED:
                return f"the same server (server_id {server_id}) is already registered as {other.address}"
            if other.hostname is not None and other.hostname.lower() == hostname.lower():
                return (
                    f"hostname {hostname!r} is already used by {other.address}: "
                    "start this backend with a different --hostname"
                )
        return None

    def _start_monitor(self, entry: BackendEntry) -> None:
        monitor = Monitor(entry, self)
        self._monitors[entry.address] = monitor
        monitor.start()

    async def _stop(self, entry: BackendEntry) -> None:
        monitor = self._monitors.pop(entry.address, None)
        if monitor is not None:
            await monitor.stop()
        await entry.client.aclose()

    def _make_entry(self, address: str, token: str | None) -> BackendEntry:
        entry = BackendEntry(address, token=token, client=self._new_client(address, token))
        self._bind(entry)
        return entry

    async def _register(self, address: str, token: str | None, *, write_back: bool) -> BackendEntry:
        addr = normalize_address(address)
        self._check_duplicate(addr)
        if self.ip_access is not None:
            await self.ip_access.check(addr)
            self._check_duplicate(addr)  # another add may have landed while we resolved
        entry = self._make_entry(addr, token or None)
        if write_back and self.config is not None:
            try:
                self.config.add_server(addr, token or None)
            except OSError as exc:
                await entry.client.aclose()
                raise InvalidRequest(
                    f"could not write {addr} to the config file {self.config.path}: {exc.strerror or exc}"
                ) from None
        self._entries[addr] = entry
        self._start_monitor(entry)
        self._changed(entry)
        return entry

    def _check_duplicate(self, addr: str) -> None:
        existing = self._entries.get(addr)
        if existing is not None:
            named = f" as {existing.hostname!r}" if existing.hostname else ""
            raise ServerAlreadyRegistered(f"backend {addr} is already registered{named}")

    async def _register_configured(self, address: str, token: str | None) -> str | None:
        """Register a config-file backend; a refusal becomes a rejected entry.  Returns its key."""
        try:
            return (await self._register(address, token, write_back=False)).address
        except ServerAlreadyRegistered as exc:
            self.problems.append(f"config file: {exc.message}; skipped")
            return None
        except InvalidRequest as exc:
            try:
                key = normalize_address(address)
            except InvalidRequest:
                key = address.strip() if isinstance(address, str) else repr(address)
            if key in self._entries:
                self.problems.append(f"config file: backend {key} is listed twice; skipped")
                return None
            entry = self._make_entry(key, token or None)
            entry.health = Health.REJECTED
            entry.error = exc.message
            self._entries[key] = entry
            self.problems.append(f"config file: {exc.message}")
            self._changed(entry)
            return key

    async def _restart(self, entry: BackendEntry) -> None:
        """New client (token may have changed), fresh state, new monitor; the entry object is kept."""
        await self._stop(entry)
        entry.client = self._new_client(entry.address, entry._token)
        self._bind(entry)
        entry.health, entry.hostname, entry.server_id = Health.CONNECTING, None, None
        entry.latency_ms = entry.error = None
        entry._sessions = None
        self._start_monitor(entry)
        self._changed(entry)

    # -- public API -----------------------------------------------------------------------------
    def entries(self) -> list[BackendEntry]:
        return list(self._entries.values())

    def healthy(self) -> list[BackendEntry]:
        return [e for e in self._entries.values() if e.health is Health.HEALTHY]

    async def add(self, address: str, token: str | None = None) -> BackendEntry:
        """Register a backend; returns at once in ``connecting`` (see ``normalize_address`` for rules)."""
        return await self._register(address, token, write_back=True)

    async def remove(self, handle: str) -> None:
        """Deregister by hostname or address; its sessions keep running on the backend."""
        entry = self.find(handle)
        del self._entries[entry.address]
        self._published.pop(entry.address, None)
        await self._stop(entry)
        if self.config is not None:
            configured = False
            for address, _ in self.config.servers:
                with contextlib.suppress(InvalidRequest):
                    configured = configured or normalize_address(address) == entry.address
                configured = configured or address.strip() == entry.address
            if configured:
                self.config.remove_server(entry.address)
        self.events.publish("server_removed", hostname=entry.hostname, address=entry.address)
        self._change.set()
        self._change = asyncio.Event()

    def find(self, handle: str) -> BackendEntry:
        """By hostname (exact, then case-insensitive) or by (normalised) address."""
        if isinstance(handle, str) and handle:
            for entry in self._entries.values():
                if entry.hostname == handle:
                    return entry
            folded = handle.lower()
            for entry in self._entries.values():
                if entry.hostname is not None and entry.hostname.lower() == folded:
                    return entry
            with contextlib.suppress(InvalidRequest):
                entry = self._entries.get(normalize_address(handle))
                if entry is not None:
                    return entry
            entry = self._entries.get(handle.strip())
            if entry is not None:
                return entry
        names = [e.label for e in self._entries.values()]
        listed = ", ".join(names) if names else "none"
        raise ServerNotFound(f"no backend {handle!r} is registered (registered: {listed})")

    def route(self, hostname: str) -> BackendClient:
        """The client of a healthy backend; ``ServerNotFound`` / ``ServerUnavailable`` otherwise."""
        entry = self.find(hostname)
        if entry.health is not Health.HEALTHY:
            message = f"backend {_describe(entry)}; {_ADVICE[entry.health]}"
            raise ServerUnavailable(message, server=entry.label)
        return entry.client

    async def reload(self) -> dict[str, list[str]]:
        """Re-read the config file and reconcile by address: add, remove, token (or ip_access) change."""
        if self.config is None:
            raise InvalidRequest("no config file to reload: start the server with --config PATH")
        fresh = type(self.config).load(self.config.path)
        cfg = self.config
        cfg.hostname, cfg.default_token, cfg.servers = fresh.hostname, fresh.default_token, fresh.servers
        cfg.ip_access, cfg.world_readable = fresh.ip_access, fresh.world_readable
        old_default, old_ip = self.default_token, self.ip_access
        self.default_token = self._explicit_token if self._explicit_token is not None else cfg.default_token
        self.ip_access = self._explicit_ip if self._explicit_ip is not None else cfg.ip_access
        self.problems = []

        wanted: dict[str, tuple[str, str | None]] = {}
        for address, token in cfg.servers:
            try:
                key = normalize_address(address)
            except InvalidRequest:
                key = address.strip()
            wanted.setdefault(key, (address, token))
        added: list[str] = []
        removed: list[str] = []
        updated: list[str] = []
        for key in list(self._entries):
            if key not in wanted:
                entry = self._entries.pop(key)
                self._published.pop(key, None)
                await self._stop(entry)
                self.events.publish("server_removed", hostname=entry.hostname, address=entry.address)
                removed.append(key)
        for key, (address, token) in wanted.items():
            entry = self._entries.get(key)
            if entry is None:
                got = await self._register_configured(address, token)
                if got is not None:
                    added.append(got)
                continue
            token_changed = entry._token != token or (token is None and self.default_token != old_default)
            refused = False
            if self.ip_access is not None and self.ip_access != old_ip:
                try:
                    await self.ip_access.check(entry.address)
                except InvalidRequest:
                    refused = True
            if token_changed or refused or entry.health is Health.REJECTED:
                entry._token = token
                await self._restart(entry)
                updated.append(key)
        self._change.set()
        self._change = asyncio.Event()
        return {"added": added, "removed": removed, "updated": updated}

    async def wait_healthy(self, handles: list[str], timeout: float) -> list[BackendEntry]:
        """Until every named backend (none named: all) is healthy; ``HealthTimeout`` names the laggards."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready: list[BackendEntry] = []
            laggards: list[str] = []
            if handles:
                for handle in handles:
                    try:
                        entry = self.find(handle)
                    except ServerNotFound:
                        laggards.append(f"{handle} is not registered")
                        continue
                    if entry.health is Health.HEALTHY:
                        ready.append(entry)
                    else:
                        laggards.append(_describe(entry))
            else:
                for entry in self._entries.values():
                    if entry.health is Health.HEALTHY:
                        ready.append(entry)
                    else:
                        laggards.append(_describe(entry))
            if not laggards:
                return ready
            left = deadline - loop.time()
            if left <= 0:
                raise HealthTimeout(f"backends not healthy after {timeout} s: " + "; ".join(laggards))
            change = self._change
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), left)
