"""Cash loading (加钞) with finger-vein dynamic locks: a task made by one person, approved by
another, opened at the device by two loaders with a one-time unlock, counted, booked through
the ledger and closed.

    rules        pure checks (window, amounts, device states) and the reconciliation
    codes        the one-time code of an unlock (encrypted at rest)
    tasks        a task's wire name, loaders, lookup, view and live push (both sides use it)
    service/     the write side: maker_checker (create, approve, cancel, review) and flow
                 (what the vein lock and the cash machine report, and the centre's answers)
    queries      the read side: a task, the tasks, the device area's safe-door probe
    booking      the ledger side

The loaders' finger-vein consent and enrolment on the locks are ../veins; device alarms are
raised and pushed by ../alarms.py.
"""
