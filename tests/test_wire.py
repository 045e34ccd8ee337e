"""The wire's name rule: 1–64 bytes of ``str.isalnum()`` characters or ``- _ .``."""

from __future__ import annotations

import pytest

from wsh_nb.wire import is_valid_hostname, is_valid_name, parse_tag_query


@pytest.mark.parametrize("name", ["a", "build-1", "x.y_z", "café", "日本", "٣", "a" * 64, "é" * 32])
def test_valid_names(name):
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name", ["", "has spaces", "../escape", "a/b", "x" * 65, "é" * 33, "tab\t", "nl\n", "a@b", None, 3, ["a"]]
)
def test_invalid_names(name):
    assert not is_valid_name(name)


def test_the_rule_is_isalnum_or_three_extras_for_every_character():
    for code in range(0x110000):
        c = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert is_valid_name(c) == (c.isalnum() or c in "-_."), hex(code)


@pytest.mark.parametrize(
    "host, ok",
    [
        ("build-1", True),
        ("a.b.c", True),
        ("-x", False),
        ("x-", False),
        ("has space", False),
        ("a..b", False),
        ("x" * 64, False),
        ("", False),
        ("é", False),
    ],
)
def test_hostnames(host, ok):
    assert is_valid_hostname(host) is ok


def test_tag_query_is_trimmed_and_drops_empties():
    assert parse_tag_query(" a, b,,c ,") == ["a", "b", "c"]
    assert parse_tag_query(None) == []
