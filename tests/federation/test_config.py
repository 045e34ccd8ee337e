"""Config file load and write-back that keeps comments (WIRE.md §4)."""

from __future__ import annotations

import os

import pytest
import tomllib

from wsh_nb.errors import InvalidRequest
from wsh_nb.federation import FederationConfig, IpAccess

SAMPLE = """\
# the hub's federation config
default_token = "shared-secret"  # for backends without their own

[server]
hostname = "orchestrator-1"

[[servers]]
address = "http://127.0.0.1:8081"
token = "per-server-token"   # optional

[ip_access]
# metadata endpoints are off limits
blocklist = ["169.254.0.0/16"]
allowlist = ["127.0.0.0/8"]
"""


@pytest.fixture
def cfg_path(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE)
    path.chmod(0o600)
    return path


def test_load_reads_every_section(cfg_path):
    cfg = FederationConfig.load(cfg_path)
    assert cfg.hostname == "orchestrator-1"
    assert cfg.default_token == "shared-secret"
    assert cfg.servers == [("http://127.0.0.1:8081", "per-server-token")]
    assert cfg.ip_access == IpAccess(blocklist=["169.254.0.0/16"], allowlist=["127.0.0.0/8"])
    assert cfg.world_readable is False
    assert "secret" not in repr(cfg) and "per-server-token" not in repr(cfg)


def test_world_readable_flag(cfg_path):
    cfg_path.chmod(0o644)
    assert FederationConfig.load(cfg_path).world_readable is True


def test_absent_ip_access_section_means_no_checks(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[servers]]\naddress = "http://127.0.0.1:1"\n')
    cfg = FederationConfig.load(path)
    assert cfg.ip_access is None and cfg.servers == [("http://127.0.0.1:1", None)]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("default_token = [", "not valid TOML"),
        ("servers = 3", "array of tables"),
        ("[[servers]]\ntoken = 'x'\n", "needs address"),
        ("[ip_access]\nblocklist = ['nope']\n", "not a CIDR"),
        ("[ip_access]\nallowlist = '127.0.0.0/8'\n", "list of CIDR"),
        ("[server]\nhostname = 3\n", "hostname must be a string"),
    ],
)
def test_bad_file_gives_a_clear_message(tmp_path, text, says):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidRequest) as err:
        FederationConfig.load(path)
    assert says in err.value.message and str(path) in err.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InvalidRequest) as err:
        FederationConfig.load(tmp_path / "nope.toml")
    assert "does not exist" in err.value.message


def test_write_back_keeps_comments_and_mode(cfg_path):
    cfg = FederationConfig.load(cfg_path)
    cfg.add_server("http://127.0.0.1:8082", None)
    cfg.add_server("http://127.0.0.1:8083", "tok-3")
    text = cfg_path.read_text()
    for comment in (
        "# the hub's federation config",
        "# for backends without their own",
        "# optional",
        "# metadata endpoints are off limits",
    ):
        assert comment in text
    data = tomllib.loads(text)
    assert [s["address"] for s in data["servers"]] == [
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8082",
        "http://127.0.0.1:8083",
    ]
    assert data["servers"][2]["token"] == "tok-3" and "token" not in data["servers"][1]
    assert data["ip_access"]["allowlist"] == ["127.0.0.0/8"]
    assert oct(os.stat(cfg_path).st_mode & 0o777) == "0o600"

    cfg.remove_server("HTTP://127.0.0.1:8081/")  # compared after normalisation
    data = tomllib.loads(cfg_path.read_text())
    assert [s["address"] for s in data["servers"]] == ["http://127.0.0.1:8082", "http://127.0.0.1:8083"]
    assert "# metadata endpoints are off limits" in cfg_path.read_text()
    assert FederationConfig.load(cfg_path).servers == cfg.servers


def test_write_back_rereads_the_file(cfg_path):
    cfg = FederationConfig.load(cfg_path)
    with cfg_path.open("a") as f:
        f.write("# added by hand while the hub ran\n")
    cfg.add_server("http://127.0.0.1:9000", None)
    assert "# added by hand while the hub ran" in cfg_path.read_text()


def test_removing_the_last_server_leaves_a_valid_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('# top\n[[servers]]\naddress = "http://127.0.0.1:1"\n')
    cfg = FederationConfig.load(path)
    cfg.remove_server("http://127.0.0.1:1")
    assert FederationConfig.load(path).servers == []
    assert "# top" in path.read_text()
