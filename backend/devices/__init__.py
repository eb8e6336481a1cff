"""Branch IoT hub, central side: device registry and provisioning, lifecycle, the ingest of
every branch's uplinks, alarms, device twins and signed commands (CONTRACT §3, docs/iot.md).

Modules: ``models`` (tables), ``secretbox`` (HMAC secrets encrypted at rest), ``catalog``
(device types, commands, lifecycle), ``rules`` (pure alarm rules, a table by device kind),
``registry`` (provisioning, credentials, lifecycle, visibility, what edges are told),
``twin``, ``alarms``, ``service`` (the use cases in one namespace), ``uplinks`` (parse once,
store a batch exactly once with its effects), ``commands`` (sign, send, wait for the ack,
once), ``directory`` (the ``DeviceDirectory`` port offered to the hall), ``jobs``, ``seed``,
``area`` (the declaration the composition root reads).
The MQTT side (the hub and the ingest's threads) is a process role: backend/roles/.
"""
