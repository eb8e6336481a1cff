"""The pieces of broker accounts that need no broker: device passwords derived from their
secret, passwords sealed for one edge, dynsec ACLs from acl_file rules, password fingerprints,
and the TLS options of MQTT URLs."""

from __future__ import annotations

import pytest

from backend.platform.mqtt.central import login_password
from backend.platform.mqtt.dynsec import Acl, acls_for, fingerprint
from backend.platform.mqtt.names import tls_ca_file, url_options
from edge.credentials import (
    central_login_password,
    hash_password,
    mqtt_password_for,
    new_hmac_secret,
    verify_password,
)
from edge.sealing import SealError, open_password, seal, seal_key, unseal


def test_a_device_password_is_derived_from_its_secret():
    secret = new_hmac_secret()
    password = mqtt_password_for(secret)
    assert password == mqtt_password_for(secret) and len(password) == 32
    assert password != mqtt_password_for(new_hmac_secret())
    assert secret not in password and verify_password(hash_password(password), password)


def test_central_passwords_are_derived_the_same_everywhere():
    assert login_password("s" * 40, "edge-br001") == central_login_password("s" * 40, "edge-br001")
    assert login_password("s" * 40, "edge-br001") != login_password("s" * 40, "edge-br002")
    assert login_password("s" * 40, "backend") != login_password("t" * 40, "backend")


def test_a_sealed_password_opens_only_for_its_edge_and_its_hash():
    key = seal_key("edge central pw", "edge-br001")
    token = seal(key, "device pw")
    assert "device pw" not in token and token != seal(key, "device pw")  # fresh each time
    assert unseal(key, token) == "device pw"
    assert open_password(key, token, hash_password("device pw")) == "device pw"
    for other in (
        seal_key("edge central pw", "edge-br002"),  # another edge's login
        seal_key("another pw", "edge-br001"),  # another password
    ):
        with pytest.raises(SealError):
            unseal(other, token)
    with pytest.raises(SealError, match="does not match"):
        open_password(key, token, hash_password("something else"))
    with pytest.raises(SealError):
        open_password(key, token, None)
    with pytest.raises(SealError):
        unseal(key, "not a token")
    with pytest.raises(ValueError):
        seal_key("", "edge-br001")


def test_acl_file_rules_as_dynsec_acls():
    assert acls_for([("read", "a/#")]) == (
        Acl("publishClientReceive", "a/#"),
        Acl("subscribePattern", "a/#"),
    )
    assert acls_for([("write", "a/+/up")]) == (Acl("publishClientSend", "a/+/up"),)
    assert set(acls_for([("readwrite", "a/#")])) == set(
        acls_for([("read", "a/#"), ("write", "a/#")])
    )
    with pytest.raises(ValueError):
        acls_for([("deny", "a/#")])


def test_fingerprints_tell_passwords_apart_without_showing_them():
    fp = fingerprint("pw", "dev1")
    assert fp == fingerprint("pw", "dev1") and fp.startswith("fp:") and "pw" not in fp[3:]
    assert fp != fingerprint("pw2", "dev1") and fp != fingerprint("pw", "dev2")


def test_tls_options_of_urls():
    env = {"FINEDGE_MQTT_CA_FILE": "/env/ca.crt"}
    assert tls_ca_file("mqtts://h:8883?cafile=/url/ca.crt", env) == "/url/ca.crt"
    assert tls_ca_file("mqtts://h:8883", env) == "/env/ca.crt"
    assert tls_ca_file("mqtts://h:8883", {}) is None  # the system's CAs
    assert tls_ca_file("mqtt://h:1883", env) is None  # no TLS, no CA
    assert url_options("mqtt://u:p@h:1883") == {}
    with pytest.raises(ValueError, match="not known"):
        url_options("mqtts://h:8883?insecure=1")
