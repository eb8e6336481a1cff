"""The production shape, checked without a Docker engine.

docker-compose.yml is parsed and cross-checked against the repository: images or builds,
mounted config files, secrets, commands (``finedge <sub>`` must be a contract sub-command,
gunicorn's app module must exist), dependencies and networks, no secret written in clear.
Then the checked-in Mosquitto configs run in a real ``mosquitto`` (rewritten to free ports and
temporary paths): the dynamic security plugin and its admin login, no anonymous client, TLS on
8883 (the accounts and ACLs they carry are tested in tests/integration/test_central_acl.py,
test_devices_acl.py and test_broker_accounts.py).
"""

from __future__ import annotations

import re
import shlex
import uuid
from pathlib import Path

import pytest
import yaml

from backend.platform.mqtt import MqttClient, MqttConnectError
from backend.platform.mqtt.dynsec import DynsecAdmin
from tests.dynsec_support import make_certs, start_dynsec_mosquitto

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
MOSQUITTO_CONFS = {
    "central": ROOT / "deploy/mosquitto/central/mosquitto.conf",
    "branch": ROOT / "deploy/mosquitto/branch/mosquitto.conf",
}
CONTRACT_SUBCOMMANDS = {
    "serve",
    "edge",
    "devices",
    "db",
    "seed",
    "users",
    "bench",
    "jobs",
    "bootstrap",
    "web",
    "hub",
    "scheduler",
    "rpa",  # finedge rpa worker (docs/CONTRACT.md, issue 19)
}
CENTRAL_ROLES = ("web", "hub", "scheduler")
INTERPOLATION = re.compile(r"\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def command_tokens(service: dict) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(t) for t in command]


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of host-path volumes; named volumes are left out."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def secret_targets(service: dict) -> dict[str, str]:
    """In-container path -> secret name."""
    targets = {}
    for secret in service.get("secrets", []):
        name = secret if isinstance(secret, str) else secret["source"]
        target = name if isinstance(secret, str) else secret.get("target", name)
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        targets[path] = name
    return targets


def conf_value(text: str, key: str) -> str | None:
    match = re.search(rf"^{key}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- structure


def test_expected_services_exist(services):
    expected = {
        "postgres",
        "mosquitto",
        "redis",
        "migrate",
        "web",
        "hub",
        "scheduler",
        "branch-mosquitto",
        "edge-br001",
        "devices-br001",
    }
    assert expected <= set(services)


def test_every_service_has_an_image_or_a_build(services):
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (ROOT / context).is_dir(), name
            assert (ROOT / context / (dockerfile or "Dockerfile")).is_file(), name


def test_pinned_third_party_images(services):
    images = {name: s.get("image") for name, s in services.items()}
    assert images["postgres"] == "postgres:16"
    assert images["redis"] == "redis:7"
    assert images["mosquitto"] == images["branch-mosquitto"] == "eclipse-mosquitto:2"


def test_every_bind_mounted_file_exists_in_the_repo(services):
    seen = 0
    for name, service in services.items():
        for source, _target in bind_mounts(service):
            assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            seen += 1
    assert seen >= 4


def test_named_volumes_networks_and_dependencies_are_declared(compose, services):
    volumes = set(compose.get("volumes") or {})
    networks = set(compose.get("networks") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name}: volume {source} not declared"
        for network in service.get("networks", []):
            assert network in networks, f"{name}: network {network} not declared"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_no_password_file_or_secret_is_mounted(compose, services):
    """Broker accounts follow the registry through dynamic security: nothing to hand-edit."""
    assert not compose.get("secrets")
    for name, service in services.items():
        assert not secret_targets(service), name
        for source, _target in bind_mounts(service):
            assert "passwd" not in source and not source.endswith("/acl"), f"{name}: {source}"


def test_finedge_commands_are_contract_subcommands(services):
    found = set()
    for name, service in services.items():
        tokens = command_tokens(service)
        if tokens[:1] == ["finedge"]:
            assert len(tokens) > 1 and tokens[1] in CONTRACT_SUBCOMMANDS, f"{name}: {tokens}"
            found.add(tokens[1])
    assert {"db", "edge", "devices", *CENTRAL_ROLES} <= found
    assert command_tokens(services["migrate"]) == ["finedge", "db", "upgrade"]
    for role in CENTRAL_ROLES:
        assert command_tokens(services[role])[:2] == ["finedge", role]
    assert command_tokens(services["edge-br001"])[1:] == ["edge", "--branch", "BR001"]
    assert command_tokens(services["devices-br001"])[1:] == ["devices", "--branch", "BR001"]


def test_the_simulators_are_a_demo_profile_only(services):
    assert services["devices-br001"]["profiles"] == ["demo"]
    assert services["devices-br001"]["environment"]["FINEDGE_ENV"] == "demo"
    others = [n for n, s in services.items() if n != "devices-br001"]
    assert all("profiles" not in services[n] for n in others)


def test_roles_scale_and_have_probes(services):
    assert services["hub"]["deploy"]["replicas"] >= 2
    assert services["scheduler"]["deploy"]["replicas"] == 2  # active and standby
    for role in CENTRAL_ROLES:
        probe = " ".join(services[role]["healthcheck"]["test"])
        assert "/readyz" in probe or "/api/v1/health" in probe, role


def _app_module_exists(tokens: list[str]) -> None:
    apps = [t for t in tokens if re.fullmatch(r"[a-z_][\w.]*:[a-z_]\w*", t)]
    assert len(apps) == 1, tokens
    module = apps[0].split(":")[0]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{module} is not in the repo"


def test_production_environment(services):
    finedge = {n: s for n, s in services.items() if "build" in s or "<<" in s}
    assert set(finedge) >= {"migrate", *CENTRAL_ROLES, "edge-br001", "devices-br001"}
    for name, service in finedge.items():
        env = service["environment"]
        if name != "devices-br001":  # the demo profile's simulators
            assert env["FINEDGE_ENV"] == "production", name
        assert INTERPOLATION.fullmatch(env["FINEDGE_SECRET_KEY"]), name
        assert ":?" in env["FINEDGE_SECRET_KEY"], f"{name}: start must fail without the key"
    for role in CENTRAL_ROLES:
        env = services[role]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://"), role
        assert env["MQTT_URL"].startswith("mqtt://"), role
        assert env["REDIS_URL"].startswith("redis://redis:"), role
    assert "@mosquitto:" in services["hub"]["environment"]["MQTT_ADMIN_URL"]
    edge = services["edge-br001"]["environment"]
    assert "@branch-mosquitto:" in edge["BRANCH_MQTT_URL"]
    assert "@branch-mosquitto:" in edge["BRANCH_MQTT_ADMIN_URL"]
    assert edge["MQTT_URL"] == "mqtts://mosquitto:8883"  # its login derived from the secret


def test_no_password_is_written_in_clear(services):
    userinfo = re.compile(r"://[^:/@]+:([^@]+)@")
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            for password in userinfo.findall(value):
                assert INTERPOLATION.fullmatch(password), f"{name}.{key} has a literal password"
            if "PASSWORD" in key or "SECRET" in key:
                assert INTERPOLATION.fullmatch(value), f"{name}.{key} is not from the environment"


def test_dockerfile(services):
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.MULTILINE)
    assert "pip install -c constraints.txt ." in text
    assert re.search(r"--no-deps face_recognition", text)
    cmd = re.search(r"^CMD (\[.*\])\s*$", text, flags=re.MULTILINE)
    assert cmd is not None
    tokens = yaml.safe_load(cmd.group(1))
    assert tokens == command_tokens(services["web"])


# --------------------------------------------------------------------------- Mosquitto configs


def listeners(text: str) -> dict[int, dict[str, str]]:
    """Each ``listener <port>`` block's settings (up to the next listener or a blank line)."""
    blocks: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("listener "):
            current = blocks.setdefault(int(line.split()[1]), {})
        elif not line:
            current = None
        elif current is not None and not line.startswith("#"):
            key, _, value = line.partition(" ")
            current[key] = value.strip()
    return blocks


@pytest.mark.parametrize("which", sorted(MOSQUITTO_CONFS))
def test_mosquitto_config_is_tuned_closed_and_dynamic(which):
    text = MOSQUITTO_CONFS[which].read_text()
    assert conf_value(text, "set_tcp_nodelay") == "true"
    assert int(conf_value(text, "max_queued_messages") or 0) > 1000  # raised from the default
    assert conf_value(text, "allow_anonymous") == "false"
    # Accounts through the dynamic security plugin, one instance for every listener.
    assert conf_value(text, "per_listener_settings") == "false"
    assert (conf_value(text, "plugin") or "").endswith("/mosquitto_dynamic_security.so")
    dynsec = conf_value(text, "plugin_opt_config_file") or ""
    assert dynsec.startswith(conf_value(text, "persistence_location") or "?")  # the data volume
    assert conf_value(text, "password_file") is None and conf_value(text, "acl_file") is None
    assert conf_value(text, "persistence") == "true"
    # Plain MQTT for the box's own network, TLS on 8883 for what comes from outside.
    blocks = listeners(text)
    assert set(blocks) == {1883, 8883}
    assert "certfile" not in blocks[1883]
    assert blocks[8883]["certfile"] and blocks[8883]["keyfile"]
    assert blocks[8883]["tls_version"] == "tlsv1.2"


@pytest.mark.parametrize(
    ("service_name", "which"), [("mosquitto", "central"), ("branch-mosquitto", "branch")]
)
def test_mosquitto_service_provides_the_files_its_config_names(services, service_name, which):
    service = services[service_name]
    mounts = {target: source for source, target in bind_mounts(service)}
    conf_source = mounts["/mosquitto/config/mosquitto.conf"]
    assert (ROOT / conf_source).resolve() == MOSQUITTO_CONFS[which].resolve()
    text = MOSQUITTO_CONFS[which].read_text()
    # The dynsec state is written by the broker: a named (writable) volume holds it.
    data_dir = str(Path(conf_value(text, "plugin_opt_config_file") or "?").parent)
    volumes = [v.split(":") for v in service.get("volumes", []) if isinstance(v, str)]
    assert any(v[1] == data_dir and not v[0].startswith((".", "/")) for v in volumes), data_dir
    # The TLS files come from the operator: mounted files or directories, or secrets.
    provided = set(mounts) | set(secret_targets(service))
    for key in ("certfile", "keyfile"):
        path = Path(listeners(text)[8883][key])
        assert any(path == Path(p) or Path(p) in path.parents for p in provided), path


# --------------------------------------------------------------------------- real mosquitto


@pytest.mark.mosquitto
@pytest.mark.timeout(30)
@pytest.mark.parametrize("which", sorted(MOSQUITTO_CONFS))
def test_checked_in_config_starts_with_its_admin_only(which, tmp_path):
    certs = make_certs(tmp_path / "certs")
    broker = start_dynsec_mosquitto(tmp_path / which, which, certs)
    clients: list[MqttClient] = []

    def connect(url: str) -> MqttClient:
        client = MqttClient(url, f"c-{uuid.uuid4().hex[:8]}")
        clients.append(client)
        return client.connect(timeout=3)

    try:
        for url in (broker.url(None), broker.url(None, tls=True), broker.url("admin", "wrong")):
            with pytest.raises(MqttConnectError):
                connect(url)
        # The admin, on the plain listener and over TLS against our CA; not without the CA.
        admin = DynsecAdmin(broker.admin_url).connect()
        assert [c["username"] for c in admin.list_clients()] == ["admin"]
        admin.close()
        assert connect(broker.url("admin", broker.admin_password, tls=True)).connected
        untrusted = f"mqtts://admin:{broker.admin_password}@127.0.0.1:{broker.tls_port}"
        with pytest.raises(MqttConnectError):
            connect(untrusted)
    finally:
        for client in clients:
            client.close()
        broker.stop()
