"""Outbound HTTP to user-supplied URLs without SSRF: resolve once, check, connect to that address.

Used by webhook delivery and by voice-prompt downloads.  The rules:

* scheme http/https only, no userinfo, a host is required;
* the host is resolved once (``getaddrinfo``, which also decodes odd IPv4 spellings such as
  ``2130706433``, ``0x7f000001`` and ``127.1``); every address must be public: loopback, RFC 1918,
  link-local (so cloud metadata 169.254.169.254), CGNAT 100.64/10, multicast, unspecified,
  reserved, and IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are refused;
* we connect to the address we checked (the Host header and TLS SNI keep the name), so a second
  DNS answer cannot swap in an internal address (DNS rebinding);
* redirects are never followed implicitly; the caller re-checks each hop, or refuses them;
* ``VOXFARM_OUTBOUND_ALLOWLIST`` (hostnames or CIDRs) opts specific local targets in.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from voxfarm.core.errors import InvalidInput, OutboundBlocked, TooLarge

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_EMBEDS_V4 = {"6to4 (2002::/16)": ipaddress.ip_network("2002::/16"),
              "Teredo (2001::/32)": ipaddress.ip_network("2001::/32"),
              "NAT64 (64:ff9b::/96)": ipaddress.ip_network("64:ff9b::/96"),
              "NAT64 (64:ff9b:1::/48)": ipaddress.ip_network("64:ff9b:1::/48")}
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # ::a.b.c.d (deprecated, RFC 4291 2.5.5.1)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why we refuse to connect to ``ip``, or None for an ordinary public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        for name, net in _EMBEDS_V4.items():
            if ip in net:
                return f"a {name} IPv6 address, which embeds IPv4"
        if ip in _V4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are judged below as what they are
            return "an IPv4-compatible IPv6 address (::a.b.c.d)"
    for attr, reason in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                         ("is_multicast", "a multicast address"),
                         ("is_unspecified", "an unspecified address"),
                         ("is_private", "a private address"), ("is_reserved", "a reserved address")):
        if getattr(ip, attr):
            return reason
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT address"
    if not ip.is_global:
        return "a non-global address"
    return None


def literal_ip(host: str) -> IPAddress | None:
    """Parse a host that is an IP literal in any spelling, or return None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # inet_aton accepts decimal (2130706433), hex (0x7f000001), octal and short (127.1) forms
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path + query, as sent on the request line
    ip: str


# a farm that posts to its own machine (a webhook receiver beside `voxfarm up`) opts in by setting
_ALLOW_HINT = ("; to allow it, list the host or its network in VOXFARM_OUTBOUND_ALLOWLIST on the API and "
               "the workers (e.g. VOXFARM_OUTBOUND_ALLOWLIST={host})")


class Guard:
    def __init__(self, allowlist: list[str] | None = None) -> None:
        self.allow_hosts = {e.lower() for e in allowlist or [] if "/" not in e}
        self.allow_nets = [ipaddress.ip_network(e, strict=False) for e in allowlist or [] if "/" in e]

    def _allowed_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow_nets)

    def parse(self, url: str) -> tuple[str, str, int, str]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidInput(f"malformed URL: {exc}", code="invalid_url") from None
        if parts.scheme not in ("http", "https"):
            raise InvalidInput("only http and https URLs are accepted", code="invalid_url")
        if parts.username or parts.password:
            raise InvalidInput("URLs with credentials are not accepted", code="invalid_url")
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidInput("the URL has no host", code="invalid_url")
        port = port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return parts.scheme, host, port, path

    def check_literal(self, url: str) -> None:
        """Cheap submit-time check: refuse literal internal addresses and ``localhost``."""
        _, host, _, _ = self.parse(url)
        if host in self.allow_hosts:
            return
        if host == "localhost" or host.endswith(".localhost"):
            raise OutboundBlocked(f"URLs pointing at localhost are not allowed{_ALLOW_HINT.format(host=host)}")
        ip = literal_ip(host)
        if ip is not None and not self._allowed_ip(ip) and (reason := forbidden_reason(ip)):
            raise OutboundBlocked(f"URL points at {reason}; only public addresses are allowed"
                                  f"{_ALLOW_HINT.format(host=host)}")

    def resolve(self, url: str) -> Target:
        """Resolve once and return the checked address to connect to (raises OutboundBlocked)."""
        scheme, host, port, path = self.parse(url)
        ip = literal_ip(host)
        if ip is not None:
            addrs = [ip]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise OutboundBlocked(f"cannot resolve {host}: {exc.strerror}", code="unresolvable_host") from None
            addrs = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addrs:
            raise OutboundBlocked(f"{host} has no address", code="unresolvable_host")
        host_allowed = host in self.allow_hosts
        for addr in addrs:
            if host_allowed or self._allowed_ip(addr):
                continue
            reason = forbidden_reason(addr)
            if reason:
                raise OutboundBlocked(f"{host} resolves to {reason}; refusing to connect"
                                      f"{_ALLOW_HINT.format(host=host)}")
        return Target(url, scheme, host, port, path, str(addrs[0]))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def request(guard: Guard, method: str, url: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 15.0,
            max_bytes: int = 1 << 20, max_redirects: int = 0) -> Response:
    """One guarded HTTP exchange.  Redirects are followed only up to ``max_redirects``, and each
    hop is resolved and checked again; with 0 a 3xx is returned to the caller as is."""
    import urllib3

    deadline = time.monotonic() + timeout
    for _hop in range(max_redirects + 1):
        target = guard.resolve(url)
        remaining = max(0.1, deadline - time.monotonic())
        t = urllib3.Timeout(connect=min(remaining, 5.0), read=remaining)
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(target.ip, target.port, timeout=t, retries=False,
                                               server_hostname=target.host, assert_hostname=target.host,
                                               maxsize=1)
        else:
            pool = urllib3.HTTPConnectionPool(target.ip, target.port, timeout=t, retries=False, maxsize=1)
        hdrs = {"Host": target.host if target.port in (80, 443) else f"{target.host}:{target.port}",
                "User-Agent": "voxfarm/0.1", **(headers or {})}
        try:
            resp = pool.urlopen(method, target.path, body=body, headers=hdrs, redirect=False,
                                preload_content=False, assert_same_host=False)
            data = bytearray()
            for part in resp.stream(64 * 1024):
                data += part
                if len(data) > max_bytes:
                    resp.release_conn()
                    raise TooLarge(f"the response from {target.host} exceeds {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{target.host} took longer than {timeout:.0f}s")
            result = Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, bytes(data), url)
        finally:
            pool.close()
        if 300 <= result.status < 400 and "location" in result.headers and _hop < max_redirects:
            url = urljoin(url, result.headers["location"])
            method, body = "GET", None
            continue
        return result
    return result
