"""Finger-vein enrolment of cash loaders: consent at the centre, the template only on the lock.

The bank keeps biometric data only with recorded consent, encrypted at rest, deleted on
withdrawal and never logged. A finger-vein lock matches on the device, so the template is
captured and kept by the lock itself and never travels: the centre keeps the loader's consent
(``VeinConsent``) and what it asked each lock to do (``VeinEnrolment``), never a template.

    loader consents               POST /vein/consent                     (text vein-v1)
    teller asks the lock          POST /locks/{lock}/enrolments {loader_id}   -> capturing
      centre -> lock              lock.enroll {loader_id: username, captures: 3, valid_for_s: 120}
    loader presents the finger    lock.capture {loader_id, n}             (n of 3; progress only)
    lock stores the template      lock.enrolled {loader_id}               -> enrolled
                   or gives up    lock.enrol_failed {loader_id, reason}   -> failed
    teller removes / consent withdrawn   -> revoking, lock.revoke {loader_id}
      (re-sent every RESEND_REVOKE_S by the job until the lock answers)
    lock deleted it               lock.revoked {loader_id} or an ok ack of lock.revoke -> row gone
    lock retired                  the job ends every enrolment on it -> row gone (the
                                  device's decommissioning wipes what the lock holds)

Consent is the shared ``backend.branch.consent`` (as for faces); withdrawing it revokes on
every lock. Each change of an enrolment is pushed as ``vein_enrolment.update`` (its view: lock,
loader, status, capture count; ``revoked`` / ``ended`` when the row goes) to the branch and to
the loader. Two first requests for one loader on one lock at once: the later is 409
``enrolment_in_progress``.

A ``lock.enrolled`` the centre did not ask for (no capturing request on that lock) or for a
loader without consent is answered with ``lock.revoke`` and a major alarm: a loader without
consent never becomes enrolled. The cash flow arms a lock only for two loaders enrolled on it
(``queries.missing_enrolments``). Audit records name the lock, the loader and the status;
nothing of a vein (no template, no capture) ever reaches the centre.

    records      the consent kind, an enrolment's view, lookups, audit record and live push
    service      the write side: consent, requests and removals, the lock's reports, the job
    queries      the read side: consent, a lock's enrolments, who is not enrolled on a lock
"""
