"""Marketing's HTTP edge (``/api/v1/marketing``): one module per part (clients, segments,
campaigns, tasks, ...), each with its own blueprint, declared in backend/marketing/area.py."""
