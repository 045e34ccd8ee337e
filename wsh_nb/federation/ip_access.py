"""IP access control for backend addresses (``[ip_access]``, WIRE.md §4), with the stdlib ``ipaddress``.

Every IP the address's host resolves to must pass: one in the blocklist → refused; an allowlist that is
not empty and matches none → refused.  The blocklist wins.  There is no built-in list: the operator owns
the threat model.  Checked at registration, for config-file backends, and on every reconnect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..errors import InvalidRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(values: Iterable[str], which: str) -> list[Network]:
    if isinstance(values, str):
        raise InvalidRequest(f"ip_access {which} must be a list of CIDRs, not a string")
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise InvalidRequest(
                f"ip_access {which}: {value!r} is not a CIDR (write e.g. '10.0.0.0/8' or '::1/128')"
            ) from None
    return out


def _normal(ip: Address) -> Address:
    """An IPv4-mapped IPv6 address is judged as the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class IpAccess:
    """Blocklist/allowlist of CIDRs; ``await check(address)`` raises ``InvalidRequest`` on refusal."""

    def __init__(self, blocklist: Iterable[str] = (), allowlist: Iterable[str] = ()) -> None:
        self.blocklist = _networks(blocklist, "blocklist")
        self.allowlist = _networks(allowlist, "allowlist")

    def __repr__(self) -> str:
        block = ", ".join(map(str, self.blocklist))
        allow = ", ".join(map(str, self.allowlist))
        return f"IpAccess(blocklist=[{block}], allowlist=[{allow}])"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, IpAccess)
            and self.blocklist == other.blocklist
            and self.allowlist == other.allowlist
        )

    __hash__ = None  # type: ignore[assignment]

    def refusal(self, ip: Address | str) -> str | None:
        """Why ``ip`` is refused, or None when it passes (pure; no resolution)."""
        addr = _normal(ipaddress.ip_address(ip) if isinstance(ip, str) else ip)
        for net in self.blocklist:
            if addr.version == net.version and addr in net:
                return f"{addr} is in the ip_access blocklist ({net})"
        if self.allowlist and not any(addr.version == n.version and addr in n for n in self.allowlist):
            allowed = ", ".join(map(str, self.allowlist))
            return f"{addr} is not in the ip_access allowlist ({allowed})"
        return None

    async def resolve(self, address: str) -> list[Address]:
        """Every IP the host of ``address`` (a URL) resolves to, via the loop's ``getaddrinfo``."""
        parts = urlsplit(address)
        host = parts.hostname
        if not host:
            raise InvalidRequest(f"address {address!r} has no host")
        try:
            return [ipaddress.ip_address(host.split("%", 1)[0])]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise InvalidRequest(f"cannot resolve {host!r} for the ip_access check: {exc}") from None
        ips: list[Address] = []
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in ips:
                ips.append(ip)
        if not ips:
            raise InvalidRequest(f"{host!r} resolves to no address")
        return ips

    async def check(self, address: str) -> None:
        """Resolve the host of ``address``; raise ``InvalidRequest`` naming the IP and the rule."""
        for ip in await self.resolve(address):
            reason = self.refusal(ip)
            if reason is not None:
                raise InvalidRequest(f"backend {address} refused: {reason}")
