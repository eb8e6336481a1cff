"""Marketing HTTP API (``/api/v1/marketing``): one module per part (docs/marketing.md)."""
