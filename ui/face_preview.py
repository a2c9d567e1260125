"""The VLM page's face parts: the face-box options, what a face-only setting will change before the
run (a few of the chosen photos, or uploaded ones, with their boxes beside the anonymized version),
and after the run, per setting, the photos in which no face was found (never silently dropped).

Engine calls only (`leakage.faces`); the lab's photos come from the lab catalog (`leakage.catalog`), every
file through the guarded opens (`leakage.paths`), uploads through `ui.uploads` (capped, decoded once,
never written to disk); user strings (file names, paths, errors naming them) are shown as text."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

import streamlit as st
from PIL import Image

from leakage.anonymize import Anonymization, anonymize
from leakage.data import ImageLoadError, load_image, scan_dataset
from leakage.embedding_cache import file_key
from leakage.face_settings import CACHE_FLOOR, DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, FaceSettings, detector_line
from leakage.faces import FaceBoxes, draw_faces, faces_text, find_faces
from leakage.paths import PathNotAllowed, check_allowed, open_checked
from leakage.results import AttackResult
from ui.text import md
from ui.uploads import decoded_uploads

PREVIEW_PHOTOS = 3
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]


def face_options(key: str) -> dict[str, Any]:
    """The face-box choices, as VLMProbeConfig fields."""
    with st.expander("Face boxes: detector, margin, bystanders"):
        st.caption("Faces are found by MTCNN (facenet-pytorch; weights inside the package, nothing downloaded) "
                   "in photos that have no boxes in the folder's faces.csv.")
        margin = st.slider("Margin around each detected face (share of the box, each side)", 0.0, 1.0, DEFAULT_MARGIN, 0.05,
                           key=f"{key}-face-margin", help="0.4 covers hairline, ears and chin on real portraits (README, Face boxes).")
        confidence = st.slider("Minimum detector confidence", CACHE_FLOOR, 0.99, DEFAULT_MIN_CONFIDENCE, 0.01,
                               key=f"{key}-face-confidence")
        largest = st.checkbox("Largest face only (leave bystanders as they are)", value=False, key=f"{key}-face-largest")
    return {"face_margin": float(margin), "face_min_confidence": float(confidence), "face_largest_only": bool(largest)}


def _uploaded_faces(uploads: Sequence[Any], settings: FaceSettings, key: str) -> tuple[list[tuple[str, Image.Image, FaceBoxes]], list[str]]:
    """(file name, photo, faces) of the uploaded photos, and a line for each one skipped. Capped and
    decoded once (`ui.uploads`); the faces are found once per upload and setting and kept in this
    session only (never in the disk cache: nothing about an upload is written to disk)."""
    images, problems = decoded_uploads(uploads, f"{key}-preview-upload")
    ids = tuple(getattr(upload, "file_id", None) or (upload.name, upload.size) for upload in uploads)
    memo_key = (ids, astuple(settings))
    memo = st.session_state.get(f"{key}-preview-upload-faces")
    if memo is None or memo[0] != memo_key:
        found = find_faces([image for _, image in images], settings, use_cache=False) if images else []
        memo = (memo_key, [(name, image, faces) for (name, image), faces in zip(images, found)])
        st.session_state[f"{key}-preview-upload-faces"] = memo
    return memo[1], [f"{problem.path}: cannot be read ({problem.reason})" for problem in problems]


def _lab_photos(data: str, model: str | None) -> tuple[str | None, str]:
    """The folder of the lab data set `data` names (`lab`: the one a run with `model` reads) when it
    is built, else a note; `data` itself when it is no lab name (a folder)."""
    from leakage.attacks.vlm_probe import ATTACK
    from leakage.catalog import lab_catalog, lab_data_sets, own_lab_data

    if data != "lab" and data not in lab_catalog().data:
        return data, ""
    entry = own_lab_data(model, ATTACK.default_data) if data == "lab" else lab_catalog().data[data]
    if entry not in lab_data_sets(ATTACK):
        return None, ""  # not photos of people: the run says why it refuses it
    if not entry.is_built():
        return None, "The lab attack set is made with the lab VLM on the first run: its photos show here after that."
    return str(entry.path()), ""


@st.cache_data(show_spinner=False, ttl=60, max_entries=16)
def _first_photos(folder: str, seed: int) -> tuple[str, list[tuple[str, tuple | None]]] | str:
    """(dataset root, [(path, faces.csv boxes)]) of the first photo drawn for each of the first few
    people, or why not; kept a minute, so that redrawing the page does not scan a large folder each time."""
    try:
        dataset = scan_dataset(folder).take(1, seed)
    except (OSError, ValueError) as error:
        return f"No preview of the folder: {error}"
    return dataset.root, [(dataset.people[name][0].path, dataset.people[name][0].face_boxes) for name in dataset.names()[:PREVIEW_PHOTOS]]


def _chosen_photos(data: str | None, seed: int, model: str | None) -> tuple[list[tuple[str, Image.Image, tuple | None, str | None]], str]:
    """(label, image, faces.csv boxes, cache key) for the first photo of the first few people, and a
    note (it may name user paths: show it as text)."""
    if not data:
        return [], ""
    folder, note = _lab_photos(data, model)
    if folder is None:
        return [], note
    if folder == data:
        try:
            check_allowed(folder, "data")  # a typed folder: refused outside the roots before anything is looked at
        except PathNotAllowed as error:
            return [], f"No preview of the folder: {error}"
    first = _first_photos(folder, seed)
    if isinstance(first, str):
        return [], first
    root, records = first
    photos = []
    for path, boxes in records:
        try:
            # every file through the guarded open, inside its data set: a link out of the folder or the roots is refused
            with open_checked(path, "data", folder=root) as handle:
                image = load_image(handle)
            photos.append((_shown_path(path, root), image, boxes, file_key(path)))
        except (PathNotAllowed, ImageLoadError, OSError) as error:
            note += f" {_shown_path(path, root)}: {getattr(error, 'reason', error)}."
    return photos, note.strip()


def show_preview(data: str | None, labels: Sequence[str], config: Any, key: str, model: str | None = None) -> None:
    """Before the run: the chosen (or uploaded) photos with their face boxes, beside the anonymized
    version. `data` and `model` as the run gets them (`lab` is the lab data set a run with `model` reads)."""
    st.subheader("What will be anonymized")
    face_labels = [label for label in labels if Anonymization.parse(label).needs_faces]
    if not face_labels:
        st.caption("No face-only setting chosen: whole-image settings treat every pixel, no face boxes needed.")
        return
    if config is None:
        return
    settings: FaceSettings = config.face_settings
    st.caption(f"{settings.describe()}. Boxes in a folder's faces.csv are used as written. Orange: the region "
               "anonymized; white: the detector's own box.")
    label = st.selectbox("Setting shown", face_labels, key=f"{key}-preview-setting",
                         format_func=lambda text: Anonymization.parse(text).description) if len(face_labels) > 1 else face_labels[0]
    setting = Anonymization.parse(label)
    uploads = st.file_uploader("Try your own photos (kept in this server's memory, never stored)", type=UPLOAD_TYPES,
                               accept_multiple_files=True, key=f"{key}-preview-upload")
    shown, skipped = _uploaded_faces(uploads or [], settings, key)
    for line in skipped:
        st.text(line)
    photos, note = _chosen_photos(data, config.seed, model)
    if note:
        st.caption(md(note))
    if photos:
        found_all = find_faces([image for _, image, _, _ in photos], settings, given=[boxes for _, _, boxes, _ in photos],
                               keys=[k for _, _, _, k in photos])
        shown += [(name, image, found) for (name, image, _, _), found in zip(photos, found_all)]
    for name, image, found in shown:
        left, right = st.columns(2)
        left.image(draw_faces(image, found), width=256)
        if found.found:
            right.image(anonymize(image, setting, found.boxes), width=256)
        else:
            right.warning("No face found: face-only settings leave this photo out of the run.")
        st.text(faces_text(name, found))


def _shown_path(path: str, root: str | None) -> str:
    """A photo's path relative to its dataset folder, when it lies inside it."""
    if root and os.path.isabs(path) and os.path.commonpath([path, root]) == root:
        return os.path.relpath(path, root)
    return path


def show_missing_faces(result: AttackResult, key: str | None = None) -> None:
    """After the run: per face-only setting, how many photos had no face found, and which, by file (a
    result section, `ui.page_parts`)."""
    record = result.details.get("faces")
    if not record:
        return
    st.subheader("Faces found")
    st.text(detector_line(record))
    missing = record.get("no_face", [])
    total = len(record.get("images", []))
    st.text("\n".join(
        f"{Anonymization.parse(label).description}: no face found in {entry.get('faces_missing', 0)} of {total} photos"
        for label, entry in result.metrics.get("leak_rates", {}).items() if Anonymization.parse(label).needs_faces
    ))
    if not missing:
        st.success(f"A face was found in every one of the {total} photos.")
        return
    st.warning(f"No face found in {len(missing)} of {total} photos: every face-only setting left them out (listed below). "
               "To include them, give their boxes in the folder's faces.csv (python -m leakage faces FOLDER writes one to correct).")
    errors = {image["path"]: image.get("error") for image in record["images"]}
    root = result.dataset.get("id")
    st.text("\n".join(_shown_path(path, root) + (f" ({errors[path]})" if errors.get(path) else "") for path in missing))
