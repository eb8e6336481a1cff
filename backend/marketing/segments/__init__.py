"""Client segments: rule segments (a JSON tree over tier, AUM, age, outlet, tags, events;
``rules``) compiled to SQL and to a pandas mask, model lists (calibrated propensity,
``propensity``; pluggable ``scorers.SCORERS``), size and overlap before use (``queries``),
freezing and audited exports (``service``), and the benchmark rows (``bench``).
docs/marketing.md, section "Segments"."""
