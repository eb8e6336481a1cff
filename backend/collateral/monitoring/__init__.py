"""Collateral monitoring: the LTV policy per product, LTV per credit and its risk events,
batch revaluation of the book, market sales and the quarterly IAAO ratio study with drift
alarms (docs/collateral.md, "Monitoring"). Write side ``service``, read side ``queries``."""
