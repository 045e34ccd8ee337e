"""The federation config file (TOML, WIRE.md §4): load with ``tomllib``, write back with ``tomlkit``.

    default_token = "shared-secret"
    [server]
    hostname = "orchestrator-1"
    [[servers]]
    address = "http://127.0.0.1:8081"
    token = "per-server-token"   # optional
    [ip_access]
    blocklist = ["169.254.0.0/16"]
    allowlist = ["127.0.0.0/8"]

Backends added or removed at run time are written back (``add_server`` / ``remove_server``): the file is
re-read, edited with tomlkit so comments and layout survive, and replaced atomically keeping its mode.
``world_readable`` tells the caller to warn (the file holds tokens).  Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import tomlkit

from ..errors import InvalidRequest, WshError
from .ip_access import IpAccess

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _same_address(a: str, b: str) -> bool:
    from .registry import normalize_address  # registry imports this module's users, not the reverse

    try:
        return normalize_address(a) == normalize_address(b)
    except WshError:
        return a.strip() == b.strip()


class FederationConfig:
    """A loaded config file.  ``servers`` is a list of ``(address, token or None)``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hostname: str | None = None,
        default_token: str | None = None,
        servers: list[tuple[str, str | None]] | None = None,
        ip_access: IpAccess | None = None,
        world_readable: bool = False,
    ) -> None:
        self.path = Path(path)
        self.hostname = hostname
        self.default_token = default_token
        self.servers = list(servers or [])
        self.ip_access = ip_access
        self.world_readable = world_readable

    def __repr__(self) -> str:  # never the tokens
        return f"<FederationConfig {self.path} servers={len(self.servers)}>"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FederationConfig:
        """Read and check ``path``; ``InvalidRequest`` saying what is wrong and where."""
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
            mode = p.stat().st_mode
        except FileNotFoundError:
            raise InvalidRequest(f"config file {p} does not exist") from None
        except OSError as exc:
            raise InvalidRequest(f"cannot read config file {p}: {exc.strerror or exc}") from None
        try:
            data = tomllib.loads(raw.decode())
        except UnicodeDecodeError:
            raise InvalidRequest(f"config file {p} is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidRequest(f"config file {p} is not valid TOML: {exc}") from None

        def bad(what: str) -> InvalidRequest:
            return InvalidRequest(f"config file {p}: {what}")

        default_token = data.get("default_token")
        if default_token is not None and not isinstance(default_token, str):
            raise bad("default_token must be a string")
        server = data.get("server", {})
        if not isinstance(server, dict):
            raise bad("[server] must be a table")
        hostname = server.get("hostname")
        if hostname is not None and not isinstance(hostname, str):
            raise bad("[server] hostname must be a string")
        servers: list[tuple[str, str | None]] = []
        entries = data.get("servers", [])
        if not isinstance(entries, list):
            raise bad('servers must be an array of tables: write [[servers]] with address = "http://..."')
        for i, item in enumerate(entries):
            if not isinstance(item, dict) or not isinstance(item.get("address"), str):
                raise bad(f'[[servers]] entry {i + 1} needs address = "http://host:port"')
            token = item.get("token")
            if token is not None and not isinstance(token, str):
                raise bad(f"[[servers]] entry {i + 1}: token must be a string")
            servers.append((item["address"], token or None))
        ip_access = None
        section = data.get("ip_access")
        if section is not None:
            if not isinstance(section, dict):
                raise bad("[ip_access] must be a table")
            lists = {}
            for key in ("blocklist", "allowlist"):
                value = section.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise bad(f"[ip_access] {key} must be a list of CIDR strings")
                lists[key] = value
            try:
                ip_access = IpAccess(**lists)
            except InvalidRequest as exc:
                raise bad(str(exc)) from None
        return cls(
            p,
            hostname=hostname,
            default_token=default_token or None,
            servers=servers,
            ip_access=ip_access,
            world_readable=bool(mode & stat.S_IROTH),
        )

    # -- write-back -----------------------------------------------------------------------------
    def _edit(self, change: Any) -> None:
        try:
            doc = tomlkit.parse(self.path.read_text())
        except FileNotFoundError:
            doc = tomlkit.document()
        except (OSError, tomlkit.exceptions.ParseError) as exc:
            raise InvalidRequest(f"cannot update config file {self.path}: {exc}") from None
        change(doc)
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o600
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(tomlkit.dumps(doc))
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def add_server(self, address: str, token: str | None) -> None:
        """Append a ``[[servers]]`` table (comments elsewhere in the file are kept)."""

        def change(doc: Any) -> None:
            aot = doc.get("servers")
            if aot is None:
                aot = tomlkit.aot()
                doc.append("servers", aot)
            for item in aot:
                if _same_address(str(item.get("address", "")), address):
                    if token:
                        item["token"] = token
                    elif "token" in item:
                        del item["token"]
                    return
            table = tomlkit.table()
            table["address"] = address
            if token:
                table["token"] = token
            aot.append(table)

        self._edit(change)
        self.servers = [s for s in self.servers if not _same_address(s[0], address)] + [(address, token)]

    def remove_server(self, address: str) -> None:
        """Drop every ``[[servers]]`` table with this address (after normalisation)."""

        def change(doc: Any) -> None:
            aot = doc.get("servers")
            if aot is None:
                return
            for i in reversed(range(len(aot))):
                if _same_address(str(aot[i].get("address", "")), address):
                    del aot[i]
            if len(aot) == 0:
                del doc["servers"]

        self._edit(change)
        self.servers = [s for s in self.servers if not _same_address(s[0], address)]
