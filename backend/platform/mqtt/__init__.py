"""The MQTT layer every process shares: the client wrapper and the embedded brokers.

- ``client``: ``MqttClient`` (paho-mqtt 2.x: resubscribe on connect, backoff with jitter,
  dispatch off the network thread), with ``publish`` (confirmed) and ``publish_nowait`` (a
  window in flight, ``wait_published``), and ``abort`` (fault injection);
- ``retry``: ``connect_with_retry`` for processes that wait for their broker;
- ``messages``: the values it hands around (``Message``, ``Will``, ``Delivery``) and its errors;
- ``names``: broker URLs and topic filters;
- ``broker``: ``EmbeddedBroker`` (amqtt in a thread, password logins);
- ``acl``: ``AclBroker`` (logins and a topic ACL decided by an ``Access``) and
  ``MosquittoAclAccess`` (a Mosquitto ``acl_file``'s rules), for the central broker of
  ``finedge serve`` and the branch brokers of the edges.

Import from this package; its modules are its own business.
"""

from backend.platform.mqtt.acl import (
    PUBLISH,
    RECEIVE,
    SUBSCRIBE,
    Access,
    AclBroker,
    AclRule,
    MosquittoAclAccess,
    filter_covers,
    filters_overlap,
    parse_acl,
)
from backend.platform.mqtt.broker import BrokerStartError, EmbeddedBroker, PasswordTable
from backend.platform.mqtt.client import (
    DEFAULT_INFLIGHT,
    PAHO_LOGGER,
    MqttClient,
    wait_published,
)
from backend.platform.mqtt.messages import (
    Delivery,
    Handler,
    Message,
    MqttConnectError,
    MqttError,
    MqttPublishError,
    MqttSubscribeError,
    Stats,
    Will,
)
from backend.platform.mqtt.names import parse_mqtt_url, topic_matches
from backend.platform.mqtt.retry import connect_with_retry

__all__ = [
    "DEFAULT_INFLIGHT",
    "PAHO_LOGGER",
    "PUBLISH",
    "RECEIVE",
    "SUBSCRIBE",
    "Access",
    "AclBroker",
    "AclRule",
    "BrokerStartError",
    "Delivery",
    "EmbeddedBroker",
    "Handler",
    "Message",
    "MosquittoAclAccess",
    "MqttClient",
    "MqttConnectError",
    "MqttError",
    "MqttPublishError",
    "MqttSubscribeError",
    "PasswordTable",
    "Stats",
    "Will",
    "connect_with_retry",
    "filter_covers",
    "filters_overlap",
    "parse_acl",
    "parse_mqtt_url",
    "topic_matches",
    "wait_published",
]
