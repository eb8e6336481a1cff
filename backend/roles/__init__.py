"""The process roles, and what only a running process has (threads, sockets, brokers):
``web`` (the Flask app: HTTP and Socket.IO) and ``web_server`` (its production server),
``hub`` and ``ingest`` (the device hub on the central broker and its batched writer),
``broker`` (the embedded central broker of the one-process shape), ``command_link`` (commands
from a process without a hub), ``live`` (the Socket.IO emitters). The composition root
(backend/bootstrap.py) builds them; the domain areas never import them. ``finedge serve``
(backend/serve.py) runs every role in one process."""
