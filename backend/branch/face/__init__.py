"""Face recognition at the branch door, only for clients who consented.

``vectors`` (what counts as a face encoding, checked at every entry), ``crypto`` (encodings
encrypted at rest), ``detect`` (the face in an image: the largest box the
HOG detector is confident about, and its 128-d encoding), ``gallery`` (vectorised 1:N matching),
``consent`` (the face kind of biometric consent), ``service`` (the write side: consent granted
and withdrawn, enrolment, recognition at the door, VIP notification, the branch's tolerance)
and ``queries`` (the read side: a client's consent).
"""
