"""Keeping every enterprise's signals current:

- ``live``: the enterprises an arriving event touched, re-evaluated in the caller's
  transaction (rules and the champion model, with the graph measures of the last scan);
- ``scan``: the full scan, in phases, with progress and a report (graph, assessment,
  contagion, model, reconciliation);
- ``steps``: what both do with the assessments (org kinds, model findings, stored tags)."""
