"""Broker URLs and topic filters: ``mqtt://user:pass@host:port`` and MQTT wildcard matching.

TLS: ``mqtts://`` (or ``ssl://``) verifies the broker's certificate and host name against the
system's CAs, or against the CA file named by the URL's ``cafile`` query parameter
(``mqtts://edge-br001:pw@central.example:8883?cafile=/run/secrets/mqtt_ca.crt``), or else by
the process's ``FINEDGE_MQTT_CA_FILE`` environment variable (one private CA for every broker a
process talks to). ``tls_ca_file`` says which applies.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from paho.mqtt.client import topic_matches_sub

DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}
TLS_SCHEMES = frozenset({"mqtts", "ssl"})


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://user:pass@host:port`` -> (host, port, username, password).

    Schemes mqtt/tcp (default port 1883) and mqtts/ssl (8883, TLS). User and password are
    percent-decoded, so a password may contain ``@`` or ``:`` as ``%40`` and ``%3A``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} (use mqtt:// or mqtts://)")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return parts.hostname, port, username or None, password


CA_FILE_ENV = "FINEDGE_MQTT_CA_FILE"
_URL_OPTIONS = frozenset({"cafile"})


def uses_tls(url: str) -> bool:
    return urlsplit(url).scheme.lower() in TLS_SCHEMES


def url_options(url: str) -> dict[str, str]:
    """The URL's query options (only ``cafile`` is known); ValueError for any other, so a
    misspelt option is not silently ignored."""
    options = {}
    for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items():
        if key not in _URL_OPTIONS:
            raise ValueError(f"MQTT URL option {key!r} is not known (known: cafile)")
        options[key] = values[-1]
    return options


def tls_ca_file(url: str, environ: dict[str, str] | None = None) -> str | None:
    """The CA file a TLS URL verifies its broker with: its ``cafile`` option, else
    ``FINEDGE_MQTT_CA_FILE``, else None (the system's CAs). None for a plain URL."""
    if not uses_tls(url):
        return None
    env = os.environ if environ is None else environ
    return url_options(url).get("cafile") or env.get(CA_FILE_ENV) or None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard matching (``+`` one level, ``#`` the rest), as paho implements it."""
    return topic_matches_sub(topic_filter, topic)


def check_filter(topic_filter: str) -> None:
    """ValueError unless ``topic_filter`` is a valid subscription filter."""
    levels = topic_filter.split("/")
    ok = bool(topic_filter) and len(topic_filter.encode("utf-8")) <= 65535
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            ok = False
        if "+" in level and level != "+":
            ok = False
    if not ok:
        raise ValueError(f"invalid MQTT topic filter {topic_filter!r}")
