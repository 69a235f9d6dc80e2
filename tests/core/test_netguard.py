"""SSRF guard: every spelling of an internal address is refused, allowlisted ones are not, and we
connect to the address we checked."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from core.errors import InvalidInput, OutboundBlocked
from core.netguard import Guard, forbidden_reason, literal_ip, request

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
