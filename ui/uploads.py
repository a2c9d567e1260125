"""Photos uploaded on a page: capped in count and in decoded pixels, decoded once per upload.

Streamlit caps each file's size (`server.maxUploadSize`), not how many files come at once nor how
many pixels a small compressed file decodes to. Here a page takes at most `MAX_FILES` photos of
at most `MAX_PIXELS` pixels each (`load_image` reads the size from the header before decoding),
`MAX_TOTAL_PIXELS` together; a photo over a limit is reported and skipped like any bad input.
The decoded photos are kept in the session by the uploads' ids, so a rerun of the page (every
widget change) does not decode them again. Nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from leakage.data import DatasetProblem, ImageLoadError, load_image

MAX_FILES = 30
MAX_PIXELS = 24_000_000
"""Per photo: above any phone camera's 12-24 MP at full size, well below the decoder's own 64 MP bound."""
MAX_TOTAL_PIXELS = 200_000_000


def decoded_uploads(files: Sequence[Any], key: str, max_files: int = MAX_FILES) -> tuple[list[tuple[str, Any]], list[DatasetProblem]]:
    """(file name, RGB image) of the uploads that decode within the limits, and a problem for each other."""
    ids = tuple(getattr(upload, "file_id", None) or (upload.name, upload.size) for upload in files)
    memo = st.session_state.get(f"{key}-decoded")
    if memo is not None and memo[0] == ids:
        return memo[1], memo[2]
    images, problems, total = [], [], 0
    for index, upload in enumerate(files):
        if index >= max_files:
            problems.append(DatasetProblem(upload.name, f"more than {max_files} photos uploaded at once; skipped"))
            continue
        try:
            image = load_image(upload.getvalue(), max_pixels=MAX_PIXELS)
        except ImageLoadError as error:
            problems.append(DatasetProblem(upload.name, error.reason))
            continue
        pixels = image.width * image.height
        if total + pixels > MAX_TOTAL_PIXELS:
            problems.append(DatasetProblem(upload.name, f"the photos together exceed {MAX_TOTAL_PIXELS:,} pixels; skipped"))
            continue
        total += pixels
        images.append((upload.name, image))
    st.session_state[f"{key}-decoded"] = (ids, images, problems)
    return images, problems
