"""Broker URLs and topic filters: ``mqtt://user:pass@host:port`` and MQTT wildcard matching."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

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


def uses_tls(url: str) -> bool:
    return urlsplit(url).scheme.lower() in TLS_SCHEMES


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
