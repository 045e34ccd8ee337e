"""Backend address rules and normalisation (WIRE.md §4), without sockets."""

from __future__ import annotations

import pytest

from wsh_nb.errors import InvalidRequest
from wsh_nb.federation import normalize_address


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("HTTP://LocalHost:8081/", "http://localhost:8081"),
        ("  http://10.0.1.10:8080//  ", "http://10.0.1.10:8080"),
        ("https://proxy.example.com/wsh-node-1/", "https://proxy.example.com/wsh-node-1"),
        ("https://Proxy.Example.com/Wsh-Node-1", "https://proxy.example.com/Wsh-Node-1"),
        ("http://example.com:80", "http://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://127.0.0.2:9", "http://127.0.0.2:9"),
    ],
)
def test_addresses_are_normalised(raw, normal):
    assert normalize_address(raw) == normal


def test_schemeless_address_suggests_http():
    with pytest.raises(InvalidRequest) as err:
        normalize_address("example.com:8080")
    assert "'http://example.com:8080'" in err.value.message
    assert err.value.status == 400 and err.value.code == "invalid_request"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("ftp://example.com:8080", "only http:// and https://"),
        ("http://", "no host"),
        ("http://:8080", "no host"),
        ("http://0.0.0.0:8080", "unspecified"),
        ("http://[::]:8080", "unspecified"),
        ("http://host:99999", "port"),
        ("http://host:abc", "port"),
        ("http://host:0", "port 0"),
        ("http://user:pw@host:1", "credentials"),
        ("http://host:1/?x=1", "query"),
        ("http://ho st:1", "invalid host"),
        ("", "missing"),
        (None, "missing"),
    ],
)
def test_bad_addresses_are_refused_with_a_hint(raw, says):
    with pytest.raises(InvalidRequest) as err:
        normalize_address(raw)
    assert says in err.value.message
