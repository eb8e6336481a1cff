"""Face recognition at the branch door, only for clients who consented.

``crypto`` (encodings encrypted at rest), ``detect`` (the face in an image: the largest box the
HOG detector is confident about, and its 128-d encoding), ``gallery`` (vectorised 1:N matching)
and ``service`` (consent, enrolment, withdrawal, recognition at the door, VIP notification).
"""
