"""CIDR allow/block rules (pure) and resolution through the loop's getaddrinfo."""

from __future__ import annotations

import pytest

from wsh_nb.errors import InvalidRequest
from wsh_nb.federation import IpAccess


def test_allowlist_of_one_loopback_address():
    rules = IpAccess(allowlist=["127.0.0.2/32"])
    assert rules.refusal("127.0.0.2") is None
    reason = rules.refusal("127.0.0.1")
    assert reason is not None and "127.0.0.1" in reason and "allowlist" in reason and "127.0.0.2/32" in reason


def test_blocklist_wins_over_allowlist():
    rules = IpAccess(blocklist=["127.0.0.2/32"], allowlist=["127.0.0.0/8"])
    reason = rules.refusal("127.0.0.2")
    assert reason is not None and "blocklist" in reason and "127.0.0.2/32" in reason
    assert rules.refusal("127.0.0.3") is None


def test_no_lists_allow_everything():
    assert IpAccess().refusal("169.254.169.254") is None


def test_ipv4_mapped_ipv6_is_judged_as_ipv4():
    rules = IpAccess(blocklist=["169.254.0.0/16"])
    assert "blocklist" in rules.refusal("::ffff:169.254.169.254")


def test_ipv6_rules_do_not_match_ipv4():
    rules = IpAccess(allowlist=["::1/128"])
    assert rules.refusal("::1") is None
    assert rules.refusal("127.0.0.1") is not None


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-cidr", "300.1.1.1"])
def test_bad_cidr_is_invalid_request(bad):
    with pytest.raises(InvalidRequest) as err:
        IpAccess(blocklist=[bad])
    assert repr(bad) in err.value.message


@pytest.mark.anyio
async def test_check_resolves_names_and_names_the_ip_and_rule():
    rules = IpAccess(allowlist=["127.0.0.2/32"])
    await rules.check("http://127.0.0.2:1")
    with pytest.raises(InvalidRequest) as err:
        await rules.check("http://localhost:8080")
    assert "allowlist" in err.value.message
    assert "127.0.0.1" in err.value.message or "::1" in err.value.message


@pytest.mark.anyio
async def test_unresolvable_host_is_refused():
    with pytest.raises(InvalidRequest) as err:
        await IpAccess(allowlist=["127.0.0.0/8"]).check("http://no-such-host.invalid:1")
    assert "resolve" in err.value.message
