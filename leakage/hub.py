"""Model hubs: off by default, so that no run ever waits on a network it cannot reach.

Real users with a network set LEAKAGE_ALLOW_DOWNLOADS=1; everyone else points the
loaders at local weights. The offline switches must be set before huggingface_hub is
imported, which is why `leakage/__init__.py` calls `apply_offline_default()` first.
"""

from __future__ import annotations

import os

ALLOW_DOWNLOADS_ENV = "LEAKAGE_ALLOW_DOWNLOADS"

LOCAL_WEIGHTS_HELP = (
    "Downloads are off (set {env}=1 on a machine with network access to allow them). "
    "To use local weights instead: pass a checkpoint file as the pretrained value "
    "(e.g. --model ViT-B-32 --pretrained /models/vit_b_32.pt), or a folder with "
    "open_clip_config.json and weights as --model local-dir:/models/my-clip; for transformers "
    "models pass the local folder written by save_pretrained (e.g. --model /models/vit-mae-base)."
).format(env=ALLOW_DOWNLOADS_ENV)


class HubUnavailableError(RuntimeError):
    """Weights were asked for from a hub that this process may not or cannot reach."""

    def __init__(self, what: str, cause: BaseException | None = None, how: str | None = None):
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        how = f"{how.rstrip('.')}. " if how else ""
        super().__init__(f"Cannot load {what} from a model hub{detail}. {how}{LOCAL_WEIGHTS_HELP}")


def downloads_allowed() -> bool:
    return os.environ.get(ALLOW_DOWNLOADS_ENV, "").strip().lower() in {"1", "true", "yes"}


def apply_offline_default() -> None:
    """Make huggingface_hub and transformers answer from the local cache only, unless allowed."""
    if not downloads_allowed():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
