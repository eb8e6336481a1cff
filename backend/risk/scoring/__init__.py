"""Scoring one enterprise at one moment, without the database: what it looked like then
(``history``), its ``features`` and ``tags``, the rules (``conditions``, ``ruleset``, and
``rulefile`` reading the versioned YAML in ``rules/``), and the ``assessment`` that puts them
together, with the contagion step that needs everybody's assessment at once.

The same code scores a live enterprise, a full scan, a training snapshot and a backtest."""
