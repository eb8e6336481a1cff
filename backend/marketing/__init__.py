"""Precision marketing: the retail client 360, marketing events from the transaction stream,
segments, campaigns with stratified control groups, RM tasks, uplift and RM KPIs."""
