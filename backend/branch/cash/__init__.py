"""Cash loading (加钞) with finger-vein dynamic locks: a task made by one person, approved by
another, opened at the device by two loaders with a one-time unlock, counted, booked through
the ledger and closed.

``rules`` (pure checks and the reconciliation), ``service`` (create, approve, cancel, review,
views), ``flow`` (what the vein lock and the cash machine report, and the centre's answers),
``veins`` (loaders' finger-vein consent and enrolment on the locks), ``alarms`` (device
alarms raised and pushed), ``booking`` (the ledger side) and ``codes`` (the one-time code).
"""
