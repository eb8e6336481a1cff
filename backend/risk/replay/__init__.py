"""Replay and backtesting: the module run on dated deliveries with a simulated clock, and the
report a risk committee reads (docs/risk.md, "Replay and backtesting").

- ``deliveries``: the deliveries folder (``DIR/YYYY-MM-DD/<source>.jsonl|json|csv``);
- ``recorder``: every signal change (raised, escalated, expired, closed) with its simulated
  time, as the lines of ``signals.jsonl``;
- ``engine``: ``replay`` (day by day through the same ingestion, live path and full scan) and
  ``backfill`` (a go-live load of history whose signals are marked, not routed as news);
- ``report``: pure functions from signals and ground truth to the backtest report (warned
  share and lead times, false alarms, precision per level and origin, alert rate, AUC), for
  the signals and for the rule-only baseline from the same file;
- ``store``: saving a report as a ``risk_backtests`` row (with the files' SHA-256).

No Flask here: ``finedge risk replay|backtest|backfill`` (backend/cli.py) drive it."""
