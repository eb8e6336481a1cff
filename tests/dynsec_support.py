"""Test helpers: throwaway TLS certificates and a private Mosquitto with the dynamic security
plugin, started from the checked-in deploy/mosquitto/{central,branch}/mosquitto.conf rewritten
to free ports and temporary paths only (its listeners, TLS files, plugin path and dynsec file).

    certs = make_certs(tmp_path / "certs")             # a CA, a server cert for 127.0.0.1
    broker = start_dynsec_mosquitto(tmp_path / "m", "branch", certs)
    broker.admin_url                                   # mqtt://admin:...@127.0.0.1:<plain>
    broker.url("dev1", "pw", tls=True)                 # mqtts://...:<tls>?cafile=<ca>
    broker.stop()

Skips (reason printed by -ra) where mosquitto, mosquitto_ctrl or the plugin is missing.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.mosquitto_process import MosquittoProcess, free_port, require_mosquitto

ROOT = Path(__file__).resolve().parents[1]
CONFS = {
    "central": ROOT / "deploy/mosquitto/central/mosquitto.conf",
    "branch": ROOT / "deploy/mosquitto/branch/mosquitto.conf",
}
MOSQUITTO_CTRL = shutil.which("mosquitto_ctrl") or "/usr/bin/mosquitto_ctrl"
PLUGIN_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
ADMIN = "admin"
PLAIN, TLS = 1883, 8883  # the checked-in configs' listener ports


def dynsec_plugin() -> str:
    for candidate in PLUGIN_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    looked = ", ".join(PLUGIN_CANDIDATES)
    pytest.skip(f"mosquitto_dynamic_security.so not found (looked in {looked})")


def require_dynsec() -> str:
    require_mosquitto()
    if not Path(MOSQUITTO_CTRL).is_file():
        pytest.skip(f"mosquitto_ctrl not found (looked for {MOSQUITTO_CTRL})")
    return dynsec_plugin()


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certs(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Certs:
    """A throwaway CA and a server certificate it signs for ``hosts`` (IPs and DNS names)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("finedge test CA"))
        .issuer_name(_name("finedge test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Certs(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(pem))
    paths.cert.write_bytes(cert.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths.key.chmod(0o600)
    return paths


# --------------------------------------------------------------------------- the broker


@dataclass
class DynsecMosquitto:
    process: MosquittoProcess
    port: int  # the plain listener (1883 in the checked-in config)
    tls_port: int  # the TLS listener (8883)
    admin_password: str
    certs: Certs
    dynsec_file: Path

    @property
    def log(self) -> str:
        return self.process.log

    def url(self, user: str | None, password: str | None = None, *, tls: bool = False) -> str:
        auth = ""
        if user is not None:
            auth = f"{quote(user, safe='')}:{quote(password or '', safe='')}@"
        if tls:
            return f"mqtts://{auth}127.0.0.1:{self.tls_port}?cafile={self.certs.ca}"
        return f"mqtt://{auth}127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return self.url(ADMIN, self.admin_password)

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.process.restart()


def rewrite_dynsec_config(
    text: str, *, ports: dict[int, int], workdir: Path, certs: Certs, plugin: str, dynsec: Path
) -> str:
    """A checked-in dynsec mosquitto.conf made runnable here: ports, paths and user only."""

    def listener(match: re.Match[str]) -> str:
        return f"listener {ports[int(match.group(1))]} 127.0.0.1"

    text, count = re.subn(r"^listener\s+(\d+)\b.*$", listener, text, flags=re.MULTILINE)
    assert count == len(ports), f"expected listeners {sorted(ports)}"
    replacements = {
        r"^plugin\s+.*$": f"plugin {plugin}",
        r"^plugin_opt_config_file\s+.*$": f"plugin_opt_config_file {dynsec}",
        r"^certfile\s+.*$": f"certfile {certs.cert}",
        r"^keyfile\s+.*$": f"keyfile {certs.key}",
        r"^persistence_location\s+.*$": f"persistence_location {workdir}/",
        r"^log_dest\s+.*$": f"log_dest file {workdir / 'mosquitto.log'}",
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count >= 1, f"config has no line matching {pattern!r}"
    # Running as root, mosquitto drops to user "mosquitto", which cannot write its dynsec file
    # in pytest's 0700 temporary directories; stay the user we are.
    text = re.sub(r"^user\s+.*$", "", text, flags=re.MULTILINE)
    return text + f"\nuser {getpass.getuser()}\n"


def start_dynsec_mosquitto(workdir: Path, which: str, certs: Certs) -> DynsecMosquitto:
    """The checked-in ``which`` config (central or branch), with a fresh dynsec file whose
    only client is the admin (``mosquitto_ctrl dynsec init``, as deploy/README.md does)."""
    plugin = require_dynsec()
    workdir.mkdir(parents=True, exist_ok=True)
    dynsec = workdir / "dynamic-security.json"
    admin_password = secrets.token_urlsafe(16)
    subprocess.run(
        [MOSQUITTO_CTRL, "dynsec", "init", str(dynsec), ADMIN, admin_password],
        check=True,
        capture_output=True,
        timeout=10,
    )
    ports = {PLAIN: free_port(), TLS: free_port()}
    config = rewrite_dynsec_config(
        CONFS[which].read_text(),
        ports=ports,
        workdir=workdir,
        certs=certs,
        plugin=plugin,
        dynsec=dynsec,
    )
    path = workdir / "mosquitto.conf"
    path.write_text(config)
    process = MosquittoProcess(path, ports[PLAIN]).start()
    return DynsecMosquitto(process, ports[PLAIN], ports[TLS], admin_password, certs, dynsec)
