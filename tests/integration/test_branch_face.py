"""Face recognition at the door on real photographs shipped offline in packages:
scikit-image's ``astronaut`` and Debian opencv-doc's ``messi5.jpg`` and ``basketball1.png``.
Transformed copies (scale, brightness, flip) match their person, other faces do not; the
detector's false second face on ``astronaut`` is not the one used; consent comes first and its
withdrawal deletes the encodings; encodings are encrypted at rest; a VIP's RM is told."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps
from sqlalchemy import func, select

from backend.branch.face import detect, vectors
from backend.branch.face import service as face
from backend.branch.face.crypto import PURPOSE, EncodingBox, FaceCryptoError
from backend.branch.models import FaceEncoding, FaceSighting
from backend.devices.models import DeviceAlarm
from backend.identity import service as identity
from backend.identity.models import Org
from backend.platform.context import SYSTEM
from backend.platform.crypto import Box
from backend.platform.errors import BusinessRuleViolation, PermissionDenied, ValidationFailed
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import (
    SECRET,
    actor,
    user_id,
)

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture


OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _astronaut() -> Path | None:
    spec = importlib.util.find_spec("skimage")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    return path if path.exists() else None


def _images() -> dict[str, Path]:
    found = {
        "astronaut": _astronaut(),
        "messi": OPENCV_DATA / "messi5.jpg",
        "basketball": OPENCV_DATA / "basketball1.png",
    }
    missing = [name for name, path in found.items() if path is None or not path.exists()]
    if missing:
        pytest.skip(
            f"face photographs missing ({', '.join(missing)}): install scikit-image into the "
            "venv and the Debian package opencv-doc"
        )
    return found


TRANSFORMS = {
    "bigger": lambda im: im.resize((int(im.width * 1.5), int(im.height * 1.5))),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.6),
    "flipped": ImageOps.mirror,
}


def _png(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos():
    """Each person's image bytes, base encoding and transformed copies' encodings (computed
    once: dlib is the expensive part of these tests)."""
    out = {}
    for name, path in _images().items():
        im = Image.open(path).convert("RGB")
        base = detect.encode_largest(detect.load_image(_png(im), max_width=1024))
        copies = {
            t: detect.encode_largest(detect.load_image(_png(f(im)), max_width=1024)).encoding
            for t, f in TRANSFORMS.items()
        }
        out[name] = {"bytes": path.read_bytes(), "capture": base, "copies": copies}
    return out


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        clients = session.scalar(select(Org).where(Org.code == "CLIENTS"))
        identity.create_user(
            session, SYSTEM, username="client3", password="client3-demo", role="client", org=clients
        )
        session.commit()
        yield session


def test_the_false_face_on_astronaut_is_not_used(photos):
    import face_recognition

    image = np.asarray(Image.open(_images()["astronaut"]).convert("RGB"))
    assert len(face_recognition.face_locations(image)) == 2  # the library alone: two faces
    everything = detect.detect(image, min_score=-1.0)
    assert len(everything) >= 2
    confident = detect.detect(image)
    assert len(confident) == 1
    top, _right, _bottom, left = confident[0][0]
    assert top < 120 and 150 < left < 200  # the astronaut's face, upper middle
    assert photos["astronaut"]["capture"].box == confident[0][0]


def test_transformed_copies_match_and_other_faces_do_not(s, hall, clock, photos):
    people = {"astronaut": "client1", "messi": "client2", "basketball": "client3"}
    for name, user in people.items():
        who = actor(s, user)
        face.grant_consent(s, who, now=clock())
        face.enrol(s, who, hall, encoding=photos[name]["capture"].encoding.tolist(), now=clock())
    s.commit()
    for name, user in people.items():
        for transform, encoding in photos[name]["copies"].items():
            match = face.identify_at_door(
                s, hall, "BR001", encoding.tolist(), device_id="BR001-CAM-01", now=clock()
            )
            assert match is not None, (name, transform)
            assert match["user_id"] == user_id(s, user), (name, transform)
            assert match["distance"] < 0.5
    # a face nobody enrolled: withdraw messi's consent, then messi is a stranger
    face.withdraw_consent(s, actor(s, "client2"), now=clock())
    for encoding in photos["messi"]["copies"].values():
        assert (
            face.identify_at_door(
                s, hall, "BR001", encoding.tolist(), device_id="BR001-CAM-01", now=clock()
            )
            is None
        )
    distances = [
        np.linalg.norm(photos[a]["capture"].encoding - photos[b]["capture"].encoding)
        for a in people
        for b in people
        if a < b
    ]
    assert min(distances) > 0.6


def test_tolerance_is_a_branch_setting(s, hall, clock, photos):
    who = actor(s, "client3")
    face.grant_consent(s, who, now=clock())
    face.enrol(
        s, who, hall, encoding=photos["basketball"]["capture"].encoding.tolist(), now=clock()
    )
    far = max(
        photos["basketball"]["copies"].values(),
        key=lambda e: np.linalg.norm(e - photos["basketball"]["capture"].encoding),
    )
    assert (
        face.identify_at_door(s, hall, "BR001", far.tolist(), device_id="cam", now=clock())
        is not None
    )
    face.set_face_tolerance(s, actor(s, "admin"), "BR001", 0.3, clock())
    assert (
        face.identify_at_door(s, hall, "BR001", far.tolist(), device_id="cam", now=clock()) is None
    )
    with pytest.raises(PermissionDenied):
        face.set_face_tolerance(s, actor(s, "teller1"), "BR001", 0.5, clock())


def test_consent_first_and_withdrawal_deletes_the_encodings(s, hall, clock, photos):
    who = actor(s, "client2")
    with pytest.raises(BusinessRuleViolation) as err:
        face.enrol(s, who, hall, image=photos["messi"]["bytes"], now=clock())
    assert err.value.code == "consent_required"
    face.grant_consent(s, who, now=clock())
    enrolled = face.enrol(s, who, hall, image=photos["messi"]["bytes"], now=clock())
    assert enrolled["encodings"] == 1
    row = s.scalar(select(FaceEncoding).where(FaceEncoding.user_id == who.user_id))
    plain = photos["messi"]["capture"].encoding
    assert plain.tobytes() not in row.ciphertext.encode()
    assert np.allclose(EncodingBox(SECRET).decrypt(row.ciphertext), plain, atol=1e-6)
    with pytest.raises(FaceCryptoError):
        EncodingBox("another-secret-key-of-enough-length-0000").decrypt(row.ciphertext)
    assert (
        face.identify_at_door(s, hall, "BR001", plain.tolist(), device_id="cam", now=clock())
        is not None
    )
    withdrawn = face.withdraw_consent(s, who, now=clock())
    assert withdrawn == {**withdrawn, "status": "withdrawn", "encodings": 0}
    assert s.scalar(select(func.count()).select_from(FaceEncoding)) == 0
    assert s.scalar(select(func.count()).select_from(FaceSighting)) == 0
    assert (
        face.identify_at_door(s, hall, "BR001", plain.tolist(), device_id="cam", now=clock())
        is None
    )
    with pytest.raises(BusinessRuleViolation) as refused:
        face.enrol(s, who, hall, encoding=plain.tolist(), now=clock())
    assert refused.value.code == "consent_required"  # withdrawn: enrolment refused
    again = face.withdraw_consent(s, who, now=clock())  # withdrawing twice deletes nothing more
    assert again == {**again, "status": "withdrawn", "encodings": 0}


def test_a_vip_at_the_door_tells_the_rm_once(s, hall, clock, photos):
    client1 = actor(s, "client1")
    face.grant_consent(s, client1, now=clock())
    encoding = photos["astronaut"]["capture"].encoding.tolist()
    face.enrol(s, client1, hall, encoding=encoding, now=clock())
    for _ in range(2):
        clock.tick(60)
        face.identify_at_door(s, hall, "BR001", encoding, device_id="BR001-CAM-01", now=clock())
    stranger = photos["basketball"]["capture"].encoding.tolist()
    assert (
        face.identify_at_door(s, hall, "BR001", stranger, device_id="BR001-CAM-01", now=clock())
        is None
    )
    s.commit()
    rm = user_id(s, "rm1")
    told = [(e, d) for e, d, r in hall.live.sent if r == [f"user:{rm}"]]
    assert len(told) == 1 and told[0][1]["client_id"] == client1.user_id
    assert told[0][0] == "client.arrived"
    assert s.scalar(select(func.count()).select_from(FaceSighting)) == 2  # no stranger kept


def test_staff_cannot_use_client_consent(s, hall, clock):
    for use in (face.grant_consent, face.withdraw_consent):
        with pytest.raises(PermissionDenied) as refused:
            use(s, actor(s, "teller1"), now=clock())
        assert refused.value.code == "forbidden"
        assert refused.value.details == {"required_roles": ["client"]}


def test_the_gallery_is_updated_incrementally(s, hall, clock, monkeypatch):
    """After an enrolment or a withdrawal only the new encodings are decrypted, the ones gone
    are dropped, and the gallery answers exactly as one rebuilt from scratch."""
    decrypted: list[str] = []
    real_decrypt = EncodingBox.decrypt

    def counting(self, token):
        decrypted.append(token)
        return real_decrypt(self, token)

    monkeypatch.setattr(EncodingBox, "decrypt", counting)
    rng = np.random.default_rng(7)
    people = {name: actor(s, name) for name in ("client1", "client2", "client3")}
    vectors = {name: rng.normal(0, 0.1, 128) for name in people}
    for name in ("client1", "client2"):
        face.grant_consent(s, people[name], now=clock())
        face.enrol(s, people[name], hall, encoding=vectors[name].tolist(), now=clock())
    first = face.load_gallery(s, hall)
    assert len(first) == 2 and len(decrypted) == 2
    assert face.load_gallery(s, hall) is first and len(decrypted) == 2  # unchanged: cached

    face.grant_consent(s, people["client3"], now=clock())
    face.enrol(s, people["client3"], hall, encoding=vectors["client3"].tolist(), now=clock())
    face.withdraw_consent(s, people["client1"], now=clock())
    updated = face.load_gallery(s, hall)
    assert len(decrypted) == 3  # only client3's encoding was decrypted
    assert sorted(updated.user_ids.tolist()) == sorted(
        [people["client2"].user_id, people["client3"].user_id]
    )
    for name in ("client2", "client3"):
        match = updated.best(vectors[name], 0.3)
        assert match is not None and match.user_id == people[name].user_id
    assert updated.best(vectors["client1"], 0.3) is None

    face.galleries.forget(face._gallery_key(s))
    rebuilt = face.load_gallery(s, hall)
    assert sorted(rebuilt.encoding_ids.tolist()) == sorted(updated.encoding_ids.tolist())
    query = rng.normal(0, 0.1, 128)
    assert np.allclose(np.sort(rebuilt.distances(query)), np.sort(updated.distances(query)))


def _face(rng) -> list[float]:
    return rng.normal(0.0, 0.124, 128).tolist()  # norm ~1.4, like dlib's


def test_one_bad_enrolment_never_stops_recognition_for_others(s, hall, clock):
    """[1e308]*128 enrolled by one client made every distance NaN (a NOT NULL failure at the
    door for everyone). Now it is refused at enrolment; and a bad row already stored (written
    before this check, or damaged) is skipped by the matcher while everyone else matches."""
    rng = np.random.default_rng(11)
    good, mallory = actor(s, "client1"), actor(s, "client2")
    for who in (good, mallory):
        face.grant_consent(s, who, now=clock())
    mine = _face(rng)
    face.enrol(s, good, hall, encoding=mine, now=clock())
    for bad, reason in (
        ([1e308] * 128, "component_out_of_range"),
        ([0.0] * 128, "norm_out_of_range"),
        ([float("nan")] * 128, "not_finite"),
        ([float("inf")] + [0.1] * 127, "not_finite"),
        ([0.1] * 12, "wrong_length"),
        ([True] * 128, "not_numbers"),
        ("0.1," * 128, "not_a_list"),
    ):
        with pytest.raises(ValidationFailed) as err:
            face.enrol(s, mallory, hall, encoding=bad, now=clock())
        assert err.value.code == "invalid_encoding"
        assert err.value.details == {"encoding": [reason]}
    # rows that bypassed the checks: raw bytes under the right key, and an undecryptable one
    consent = face.CONSENT.active(s, mallory.user_id)
    box = Box(SECRET, PURPOSE)
    for vector in ([1e308] * 128, [float("nan")] * 128, [0.0] * 128):
        s.add(
            FaceEncoding(
                user_id=mallory.user_id,
                consent_id=consent.id,
                ciphertext=box.encrypt(np.asarray(vector, dtype="<f8").tobytes()),
                model=detect.MODEL,
                quality=1.0,
                created_at=clock(),
            )
        )
    s.add(
        FaceEncoding(
            user_id=mallory.user_id,
            consent_id=consent.id,
            ciphertext=Box("another-secret-key-of-enough-length-0000", PURPOSE).encrypt(b"x"),
            model=detect.MODEL,
            quality=1.0,
            created_at=clock(),
        )
    )
    s.flush()
    gallery = face.load_gallery(s, hall)
    assert gallery.user_ids.tolist() == [good.user_id] and len(gallery.skipped_ids) == 4
    seen = (np.asarray(mine) + rng.normal(0, 0.01, 128)).tolist()
    match = face.identify_at_door(s, hall, "BR001", seen, device_id="BR001-CAM-01", now=clock())
    assert match is not None and match["user_id"] == good.user_id
    s.commit()  # the sighting's distance is a number (NaN broke the NOT NULL column)
    sighting = s.scalar(select(FaceSighting).where(FaceSighting.user_id == good.user_id))
    assert 0 <= sighting.distance < 0.6
    assert face.load_gallery(s, hall) is gallery  # unchanged: the skipped rows stay skipped


def test_a_door_camera_encoding_that_is_not_one_is_dropped_with_an_alarm(s, hall, clock):
    rng = np.random.default_rng(12)
    who = actor(s, "client1")
    face.grant_consent(s, who, now=clock())
    mine = _face(rng)
    face.enrol(s, who, hall, encoding=mine, now=clock())
    for bad in ([1e308] * 128, [0.0] * 128, [0.1] * 3, None, "x"):
        assert (
            face.identify_at_door(s, hall, "BR001", bad, device_id="BR001-CAM-01", now=clock())
            is None
        )
    alarm = s.scalar(
        select(DeviceAlarm).where(
            DeviceAlarm.rule == face.REFUSED_RULE, DeviceAlarm.active.is_(True)
        )
    )
    assert alarm is not None and alarm.severity == "minor"
    assert alarm.details["reason"] == "component_out_of_range"
    assert s.scalar(select(func.count()).select_from(FaceSighting)) == 0
    s.commit()
    pushed = [d for e, d, _r in hall.live.sent if e == "device.alarm"]
    assert [d["rule"] for d in pushed] == [face.REFUSED_RULE]  # once, while it stays open
    match = face.identify_at_door(s, hall, "BR001", mine, device_id="BR001-CAM-01", now=clock())
    assert match is not None and match["user_id"] == who.user_id
    s.refresh(alarm)
    assert alarm.active is False  # the camera sends encodings again: cleared


def test_real_encodings_lie_well_inside_the_accepted_norm_range(photos):
    """The range vectors.NORM_RANGE was chosen from: every photograph and transformed copy."""
    lo, hi = vectors.NORM_RANGE
    for person in photos.values():
        for encoding in [person["capture"].encoding, *person["copies"].values()]:
            vectors.check(encoding)
            norm = float(np.linalg.norm(encoding))
            assert lo + 0.5 < norm < hi - 0.4  # measured 1.339 to 1.465
            assert float(np.abs(encoding).max()) < vectors.MAX_COMPONENT / 2
