"""Branch IoT hub, central side: device registry and provisioning, lifecycle, the ingest of
every branch's uplinks, alarms, device twins and signed commands (CONTRACT §3, docs/iot.md).

Modules: ``models`` (tables), ``secretbox`` (HMAC secrets encrypted at rest), ``catalog`` (device
types, commands, lifecycle), ``rules`` (pure alarm rules), ``hooks`` (what other areas plug in:
whether a cash task is open, uplink handlers), ``registry`` (provisioning, credentials,
lifecycle, visibility, what edges are told), ``twin``, ``alarms``, ``service`` (the use cases in
one namespace), ``ingest`` (batched, exactly-once writer of uplinks), ``commands`` (sign, send,
wait for the ack, once), ``hub`` (the MQTT wiring used by ``finedge serve``), ``jobs``, ``seed``.
"""
