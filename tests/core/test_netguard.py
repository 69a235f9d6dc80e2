"""SSRF guard: every spelling of an internal address is refused, allowlisted ones are not, and we
connect to the address we checked."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from voxfarm.core.errors import InvalidInput, OutboundBlocked
from voxfarm.core.netguard import Guard, forbidden_reason, literal_ip, request

INTERNAL = ["http://127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0x7f000001/",
            "http://2130706433/", "http://localhost/", "http://127.1/", "http://0177.0.0.1/",
            "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://192.168.0.1/",
            "http://172.16.0.1/", "http://100.64.0.1/", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
            "http://0.0.0.0/", "http://[2002:7f00:1::]/", "http://224.0.0.1/", "http://[64:ff9b::7f00:1]/"]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_literals_are_refused_at_submit_and_at_connect(url):
    guard = Guard([])
    with pytest.raises(OutboundBlocked):
        guard.check_literal(url)
    with pytest.raises(OutboundBlocked):
        guard.resolve(url)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/",
                                 "http:///nohost", "http://[::1/"])
def test_malformed_or_unsupported_urls(url):
    with pytest.raises(InvalidInput):
        Guard([]).check_literal(url)


def test_public_addresses_pass():
    assert forbidden_reason(literal_ip("8.8.8.8")) is None
    assert Guard([]).resolve("https://1.1.1.1:8443/x?y=1").path == "/x?y=1"


def test_odd_ipv4_spellings_decode():
    assert str(literal_ip("0x7f000001")) == "127.0.0.1" and str(literal_ip("127.1")) == "127.0.0.1"
    assert str(literal_ip("2130706433")) == "127.0.0.1" and literal_ip("example.com") is None


def test_allowlist_by_cidr_and_by_name():
    Guard(["127.0.0.0/8"]).resolve("http://127.0.0.1:1/")
    Guard(["localhost"]).resolve("http://localhost:1/")
    with pytest.raises(OutboundBlocked):
        Guard(["10.0.0.0/8"]).resolve("http://127.0.0.1/")


def test_a_name_resolving_to_loopback_is_refused_without_connecting(monkeypatch):
    hits = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    srv.settimeout(0.5)
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1", *a, **k)
                        if host == "rebind.example" else real(host, *a, **k))
    with pytest.raises(OutboundBlocked):
        request(Guard([]), "GET", f"http://rebind.example:{port}/", timeout=2)
    try:
        hits.append(srv.accept())
    except TimeoutError:
        pass
    srv.close()
    assert hits == []


def test_request_connects_to_the_checked_address_and_keeps_the_host_header(monkeypatch):
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"] = self.headers["Host"]
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1", *a, **k)
                        if host == "hooks.example" else real(host, *a, **k))
    guard = Guard(["hooks.example"])
    resp = request(guard, "GET", f"http://hooks.example:{port}/x", timeout=5)
    assert resp.status == 302 and seen["host"] == f"hooks.example:{port}"  # not followed
    with pytest.raises(OutboundBlocked):  # followed redirects are checked again
        request(guard, "GET", f"http://hooks.example:{port}/x", timeout=5, max_redirects=2)
    server.shutdown()


EMBEDDED = {"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/": "Teredo",  # a real-world Teredo address
            "http://[2001::1]/": "Teredo", "http://[2001:0:7f00:1::]/": "Teredo",
            "http://[::127.0.0.1]/": "IPv4-compatible", "http://[::7f00:1]/": "IPv4-compatible",
            "http://[::8.8.8.8]/": "IPv4-compatible", "http://[::a00:1]/": "IPv4-compatible",
            "http://[2002:0808:0808::]/": "6to4", "http://[64:ff9b::808:808]/": "NAT64"}


@pytest.mark.parametrize("url,kind", EMBEDDED.items())
def test_teredo_and_ipv4_compatible_addresses_are_refused(url, kind, monkeypatch):
    guard = Guard([])
    for attempt in (guard.check_literal, guard.resolve):
        with pytest.raises(OutboundBlocked) as err:
            attempt(url)
        assert kind in err.value.message
    # and as a DNS answer for an ordinary-looking name
    addr = url.split("[")[1].split("]")[0]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "",
                                                                 (addr, 80, 0, 0))])
    with pytest.raises(OutboundBlocked) as err:
        guard.resolve("http://hooks.example.com/h")
    assert kind in err.value.message


def test_dns_rebinding_never_reaches_the_second_answer(monkeypatch):
    """The resolver answers 127.0.0.1 (allowlisted) first and 127.0.0.2 afterwards: the request must
    go to the address that was checked, and nothing may connect to the second one."""
    first = socket.socket()
    first.bind(("127.0.0.1", 0))
    port = first.getsockname()[1]
    second = socket.socket()
    second.bind(("127.0.0.2", port))
    for s in (first, second):
        s.listen()
        s.settimeout(0.3)
    answers = []
    real = socket.getaddrinfo

    def rebinding(host, *a, **k):
        if host != "rebinding.example":
            return real(host, *a, **k)
        answers.append("127.0.0.1" if not answers else "127.0.0.2")
        return real(answers[-1], *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    done = threading.Event()

    def serve_first():
        try:
            conn, _ = first.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()
        finally:
            done.set()

    threading.Thread(target=serve_first, daemon=True).start()
    try:
        resp = request(Guard(["127.0.0.1/32"]), "GET", f"http://rebinding.example:{port}/", timeout=3)
    except Exception as exc:  # noqa: BLE001 - judged below, after looking at who was reached
        resp = exc
    done.wait(5)
    reached_second = []
    try:
        reached_second.append(second.accept())
    except TimeoutError:
        pass
    first.close()
    second.close()
    assert reached_second == [] and answers == ["127.0.0.1"]  # resolved once; the second answer never used
    assert resp.status == 204  # served by the checked address
