"""Marketing events: the policy (``policy.yaml``), the vectorised detectors (``detect``: the
streaming one and its one-pass reference) and the database runs (``service``)."""
