"""Smart-counter fleet (智能柜台): parameter templates per device model, applied through each
device's desired configuration (the twin, backend/devices), in stages, with rollback; the
fleet's lifecycle at a glance; the off-counter rate.

    state        constants, the rollout looked up, which devices reject it, its view and health
    service/     the write side: templates, rollouts (start, advance, rollback, resume) and
                 halting (the halt on rejection, also from the device-event hook)
    queries      the read side: templates, the branch's fleet overview, the off-counter rate

A rollout starts with a percentage of the model's devices (chosen by a stable hash of rollout
and device, so the first 10 % stay in the next 50 %), advances to larger percentages, and can
be rolled back: each device gets back the values the template changed, as they were before
(keys that were absent are removed again). A device is in sync when it reported the desired
version and refused none of the template's keys; the rollout's health counts them.

A running rollout **halts by itself** as soon as one of its devices, answering the version the
rollout gave it (or a later one), rejects a key of the template: status ``halted``, an audit
record ``fleet.rollout_halted`` (system actor) naming each rejecting device and its rejected
keys with their reasons, and a device alarm ``fleet_template_rejected`` (major) on each of
those devices, pushed as ``device.alarm`` to the device's branch and to admins after the
commit. It is detected where the report arrives (``on_config_reported``, called by the hall's
device-event hook) and again whenever the rollout is read or advanced, so a rejection stored
before the hook existed (or skipped because an operator held the rollout at that moment) is
still seen. A halted rollout cannot advance (422 ``rollout_halted``) nor be doubled by a new
rollout of the model (409); it can be rolled back, or resumed by an admin: refused (422
``rollout_still_rejected``) while a device still rejects, unless ``exclude_rejecting`` is asked
for, which gives those devices their previous values back (they stay out of later stages).
Retired devices no longer count.
"""
