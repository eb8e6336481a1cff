"""Signals: findings (from rules, the model and contagion) turned into graded signals, and the
people who hear about them.

- ``lifecycle``: raise, de-duplicate, escalate and expire signals (``reconcile``, ``finish``);
- ``routing``: inbox items for the RM and the approvers, and ``risk.signal`` pushes sent after
  the transaction commits.

The decisions people take on signals (confirm, dismiss, lift; maker-checker) are use cases:
backend/risk/service/decisions.py."""
