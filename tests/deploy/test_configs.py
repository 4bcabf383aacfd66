"""The example deployment files under ``deploy/`` (docs/deploy.md) are valid.

nginx.conf: ``nginx -t`` on a copy whose certificate, log and temp paths point into
a temporary directory (skipped parse when nginx is not installed, then a
structural check only). systemd units: parsed as INI, each command a real one.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _nginx_copy(tmp_path: Path) -> Path:
    """deploy/nginx.conf with its machine paths moved under ``tmp_path``."""
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=reading.example.org", "-keyout", str(certs / "privkey.pem"),
         "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "logs").mkdir()
    text = (DEPLOY / "nginx.conf").read_text()
    text = text.replace("/etc/ssl/reading-room/", f"{certs}/")
    text = text.replace("/var/log/nginx/", f"{tmp_path}/logs/")
    text = text.replace("/run/nginx.pid", f"{tmp_path}/nginx.pid")
    text = text.replace("/var/lib/nginx/", f"{tmp_path}/")
    text = re.sub(r"^user .*;$", "", text, flags=re.M)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def _balanced(text: str) -> None:
    depth = 0
    for char in re.sub(r"#.*", "", text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0


def test_nginx_conf(tmp_path):
    text = (DEPLOY / "nginx.conf").read_text()
    _balanced(text)
    # WebSockets upgraded, uploads allowed their size, TLS on, every port a web unit's.
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "client_max_body_size 4g;" in text and "client_max_body_size 16m;" in text
    assert "ssl_certificate " in text and "X-Forwarded-Proto $scheme" in text
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", text)
    assert len(ports) >= 2
    target = (DEPLOY / "systemd" / "reading-room.target").read_text()
    assert all(f"reading-room-web@{port}.service" in target for port in ports)
    # The paths nginx routes to exist in the app.
    upload = re.search(r"location ~ \^/\((.*)\) \{", text).group(1)
    for path in ("dicomweb/studies", "dicomweb/studies/1.2.3", "upload/", "api/uploads/"):
        assert re.match(f"^/({upload})", "/" + path), path
        resolve("/" + path)
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    # `make test` installs both (Makefile TEST_DEBS): their absence is a failure, not a skip.
    assert nginx is not None, "nginx is not installed: run `make chromium` (nginx-light)"
    assert shutil.which("openssl") is not None, "openssl is not installed: run `make chromium`"
    conf = _nginx_copy(tmp_path)
    result = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "logs/e.log")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("path", sorted((DEPLOY / "systemd").glob("*.service")), ids=str)
def test_systemd_service(path):
    unit = _unit(path)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"] == "/etc/reading-room/reading-room.env"
    argv = shlex.split(service["ExecStart"])
    if argv[0].endswith("daphne"):
        assert argv[-1] == "reading.asgi:application" and "%i" in argv
    else:
        assert argv[1] == "manage.py" and argv[2] in get_commands(), argv


def test_environment_file_names_real_settings():
    from django.conf import settings

    env = {}
    for line in (DEPLOY / "reading-room.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    assert env["DATABASE_URL"].startswith("postgresql://") and env["REDIS_URL"]
    assert env["DICTATION_WORKER"] == "external" and env["PRODUCTION"] == "1"
    # Daphne's per-request threads would leave persistent connections open (settings.py).
    assert env["DB_CONN_MAX_AGE"] == "0"
    # Every variable is one the settings read (a typo would be silently ignored).
    settings_text = (ROOT / "reading" / "settings.py").read_text()
    for key in env:
        assert f'"{key}"' in settings_text or key in ("SECRET_KEY_FILE",), key
    assert settings.TLS is False  # the test run itself is not configured by the file


def test_procfile_commands_exist():
    from scripts.supervise import parse_procfile

    for name, command in parse_procfile((DEPLOY / "Procfile").read_text()):
        argv = shlex.split(command)
        if argv[0].endswith("daphne"):
            assert argv[-1] == "reading.asgi:application", name
        else:
            assert argv[1:2] == ["manage.py"] and argv[2] in get_commands(), name
