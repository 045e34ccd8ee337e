"""`wsh-nb serve --config`: backends from the file, write-back keeping comments, reload, ip_access."""

from __future__ import annotations

import os
import stat

import httpx
import pytest

from tests.helpers import wait_for
from wsh_nb.launchers import BackendProcess

from .conftest import health_of


def write_config(path, text: str, mode: int = 0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def start_hub(spawn_server, config) -> httpx.Client:
    proc = spawn_server("cfg-hub", args=["--config", str(config)])
    return httpx.Client(base_url=proc.url, timeout=30)


def test_config_backends_join_and_runtime_changes_are_written_back(spawn_server, tmp_path):
    a, b = spawn_server("cfg-a"), spawn_server("cfg-b")
    cfg = write_config(
        tmp_path / "c.toml",
        f'''# my cluster
[server]
hostname = "ignored-when-flag-given"

[[servers]]
address = "{a.url}"  # the build box
''',
    )
    hub = start_hub(spawn_server, cfg)
    assert hub.get("/server/info").json()["hostname"] == "cfg-hub"
    wait_for(lambda: health_of(hub, "cfg-a") == "healthy", message="config backend healthy")
    assert hub.post("/servers", json={"address": b.url, "token": "tok-0123456789abcdef"}).status_code == 201
    text = cfg.read_text()
    assert "# my cluster" in text and "# the build box" in text and b.url in text
    assert hub.delete("/servers/cfg-a").status_code == 204
    text = cfg.read_text()
    assert a.url not in text and b.url in text and "# my cluster" in text
    assert "tok-0123456789abcdef" not in hub.get("/servers").text


def test_reload_reconciles_by_address(spawn_server, tmp_path):
    a, b = spawn_server("rl-a"), spawn_server("rl-b")
    cfg = write_config(tmp_path / "c.toml", f'[[servers]]\naddress = "{a.url}"\n')
    hub = start_hub(spawn_server, cfg)
    wait_for(lambda: health_of(hub, "rl-a") == "healthy", message="rl-a healthy")
    cfg.write_text(f'[[servers]]\naddress = "{b.url}"\n')
    r = hub.post("/servers/reload")
    assert r.status_code == 200
    assert r.json() == {"added": [b.url], "removed": [a.url], "updated": []}
    wait_for(lambda: health_of(hub, "rl-b") == "healthy", message="rl-b healthy")
    assert health_of(hub, "rl-a") is None
    cfg.write_text(f'[[servers]]\naddress = "{b.url}"\ntoken = "new-token-0123456789"\n')
    assert hub.post("/servers/reload").json()["updated"] == [b.url]
    cfg.write_text("this is [not toml")
    r = hub.post("/servers/reload")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


def test_reload_without_config_is_400(spawn_server):
    proc = spawn_server("nocfg")
    r = httpx.post(f"{proc.url}/servers/reload")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


def test_ip_access_allowlist_and_blocklist(spawn_server, tmp_path):
    on_2 = spawn_server("on-two", host="127.0.0.2")
    on_1 = spawn_server("on-one")
    cfg = write_config(tmp_path / "c.toml", '[ip_access]\nallowlist = ["127.0.0.2/32"]\n')
    hub = start_hub(spawn_server, cfg)
    r = hub.post("/servers", json={"address": on_1.url})
    assert r.status_code == 400 and "127.0.0.1" in r.json()["error"]["message"]
    assert hub.post("/servers", json={"address": on_2.url}).status_code == 201
    wait_for(lambda: health_of(hub, "on-two") == "healthy", message="allowed backend healthy")

    cfg2 = write_config(
        tmp_path / "c2.toml", '[ip_access]\nallowlist = ["127.0.0.0/8"]\nblocklist = ["127.0.0.2/32"]\n'
    )
    hub2 = httpx.Client(base_url=spawn_server("cfg-hub2", args=["--config", str(cfg2)]).url)
    assert hub2.post("/servers", json={"address": on_2.url}).status_code == 400  # blocklist wins
    assert hub2.post("/servers", json={"address": on_1.url}).status_code == 201


def test_world_readable_config_warns_on_stderr(tmp_path):
    cfg = write_config(tmp_path / "c.toml", 'default_token = "shared-secret-0123456789"\n', mode=0o644)
    assert cfg.stat().st_mode & stat.S_IROTH
    log = tmp_path / "hub.log"
    proc = BackendProcess(hostname="warn", args=["--config", str(cfg)], log_path=log).start()
    try:
        text = log.read_text()
        assert "readable" in text and "chmod 600" in text
        assert "shared-secret-0123456789" not in text
    finally:
        proc.stop()


def test_bad_config_refuses_to_start(tmp_path):
    cfg = write_config(tmp_path / "c.toml", "[[servers]]\naddress = 42\n")
    proc = BackendProcess(hostname="bad", args=["--config", str(cfg)], log_path=tmp_path / "bad.log")
    with pytest.raises(Exception, match="did not start"):
        proc.start(timeout=10)
