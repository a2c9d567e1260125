"""One entry point for CLIP models: open_clip names with a pretrained tag, checkpoint files,
`local-dir:` folders, `hf-hub:` ids, the lab's own models, and transformers `CLIPModel`,
`SiglipModel` and `Siglip2Model` folders written by save_pretrained.

Whatever the source, the result is one interface (`LoadedClip`): `model.encode_image`,
`model.encode_text`, `model.logit_scale` (log of the scale, as open_clip keeps it) and, for
SigLIP, `model.logit_bias`, with `preprocess` (PIL image to tensor) and `tokenizer` (texts to
token ids), so the attacks run unchanged on any of them.

The lab model's config is registered with open_clip like any built-in one, and its
checkpoint loads through `open_clip.create_model_and_transforms`: exactly the path a real
model takes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import open_clip
import torch
from PIL import Image

from leakage import safe_load
from leakage.devices import DeviceChoice, pick_device
from leakage.hub import HubUnavailableError, downloads_allowed
from leakage.paths import checked, limited

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "lab" / "model_configs"
open_clip.add_model_config(MODEL_CONFIG_DIR)


@dataclass
class LoadedClip:
    """A CLIP model ready to encode: model, image preprocessing, tokenizer and where it runs."""

    model: torch.nn.Module
    preprocess: Callable
    tokenizer: Callable
    device: DeviceChoice
    model_name: str
    pretrained: str | None
    fingerprint: str
    load_seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return f"{self.model_name}:{self.pretrained}" if self.pretrained else self.model_name

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "pretrained": self.pretrained,
            "fingerprint": self.fingerprint,
            "device": self.device.device,
            "dtype": self.device.dtype,
            "device_description": self.device.description,
            "load_seconds": round(self.load_seconds, 3),
            **{key: self.metadata[key] for key in ("library", "architecture") if key in self.metadata},
        }


def model_fingerprint(model: torch.nn.Module) -> str:
    """A content hash of the weights, so caches keyed on it follow the weights, not the file name."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().flatten()
        sample = flat[:: max(1, flat.numel() // 4096)].float().cpu().numpy()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(sample.tobytes())
    return digest.hexdigest()[:16]


def _check_pretrained_is_local(model_name: str, pretrained: str | None) -> None:
    """Fail fast, before open_clip tries a download, when the weights or the tokenizer are not on disk."""
    if downloads_allowed():
        return
    if model_name.startswith("hf-hub:"):
        repo = model_name.removeprefix("hf-hub:")
        _require_hf_cached(repo, "open_clip_config.json", model_name)
        from huggingface_hub import try_to_load_from_cache

        config = json.loads(Path(try_to_load_from_cache(repo, "open_clip_config.json")).read_text())
        _check_tokenizer_is_local(model_name, config.get("model_cfg", {}).get("text_cfg", {}))
        return
    if model_name.startswith("local-dir:"):
        config_file = Path(model_name.removeprefix("local-dir:")).expanduser() / "open_clip_config.json"
        if config_file.is_file():
            _check_tokenizer_is_local(model_name, json.loads(config_file.read_text()).get("model_cfg", {}).get("text_cfg", {}))
        return
    model_cfg = open_clip.get_model_config(model_name) or {}
    _check_tokenizer_is_local(model_name, model_cfg.get("text_cfg", {}))
    if not pretrained or os.path.isfile(pretrained):
        return
    cfg = open_clip.get_pretrained_cfg(model_name.replace("/", "-"), pretrained)
    if not cfg:
        return  # open_clip itself reports unknown tags with the list of valid ones
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        _require_hf_cached(repo, filename or "open_clip_pytorch_model.bin", f"{model_name} ({pretrained})")
    elif cfg.get("url"):
        cached = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if not cached.is_file():
            raise HubUnavailableError(f"{model_name} ({pretrained}): weights not in {cached.parent}")


def _check_safe_to_load(model_name: str, pretrained: str | None) -> None:
    """Refuse, before open_clip reads anything, a model that would run its own code or read outside
    its folder or the server's roots (`leakage.safe_load`, `leakage.paths`)."""
    if model_name.startswith("local-dir:"):
        safe_load.read_open_clip_config(Path(model_name.removeprefix("local-dir:")).expanduser(), model_name)
        return
    if model_name.startswith("hf-hub:"):
        snapshot = safe_load.check_hub_model(model_name.removeprefix("hf-hub:"), "open_clip_config.json")
        if snapshot is not None:
            config = json.loads((snapshot / "open_clip_config.json").read_text())
            safe_load.check_open_clip_config(config, None, model_name)
        return
    model_cfg = open_clip.get_model_config(model_name) or {}
    safe_load.check_open_clip_config({"model_cfg": model_cfg}, None, model_name)
    if not pretrained:
        return
    if os.path.isfile(pretrained) or os.sep in pretrained or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors", ".npz")):
        checked(pretrained, "model")  # on a shared server: a checkpoint under the model roots only
        return
    if limited():  # a pretrained tag is read from a download cache, which must then lie under the roots
        cfg = open_clip.get_pretrained_cfg(model_name.replace("/", "-"), pretrained) or {}
        if cfg.get("hf_hub"):
            repo, filename = os.path.split(cfg["hf_hub"].rstrip("/"))
            safe_load.check_hub_model(repo, filename or "open_clip_pytorch_model.bin")
        elif cfg.get("url"):
            checked(Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"]), "model")


def _tokenizer_options(model_name: str) -> dict[str, Any]:
    """`trust_remote_code=False` for the tokenizers open_clip takes from transformers (open_clip's own
    tokenizers take no such argument)."""
    config = open_clip.get_model_config(model_name)
    uses_transformers = (config is None and model_name.startswith("hf-hub:")) or bool(
        (config or {}).get("text_cfg", {}).get("hf_tokenizer_name"))
    return dict(safe_load.NO_REMOTE_CODE) if uses_transformers else {}


def _require_hf_cached(repo_id: str, filename: str, what: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(repo_id, filename), str):
        raise HubUnavailableError(f"{what}: {repo_id}/{filename} is not in the local Hugging Face cache")


def _check_tokenizer_is_local(model_name: str, text_cfg: dict[str, Any]) -> None:
    """Some open_clip models (SigLIP, ...) take their tokenizer from the Hugging Face hub even when
    the weights are a local file: without this check, open_clip retries an unreachable hub for a
    minute, then fails with a raw OSError."""
    repo = text_cfg.get("hf_tokenizer_name")
    if not repo or Path(repo).expanduser().is_dir():
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo, "tokenizer_config.json"), str):
        return
    raise HubUnavailableError(
        f"the tokenizer of {model_name} ({repo}/tokenizer_config.json is not in the local Hugging Face cache {_hf_cache_dir()})",
        how=f"To provide it: on a machine with network access run `huggingface-cli download {repo}` and copy the Hugging Face "
        f"cache folder here (or point HF_HOME at a copy), or use --model local-dir:/folder holding the tokenizer files "
        f'beside its open_clip_config.json (with "hf_tokenizer_name" set, open_clip reads a local-dir: model\'s tokenizer from that folder)',
    )


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def load_clip(
    model_name: str,
    pretrained: str | None = None,
    *,
    device: str | None = None,
) -> LoadedClip:
    """Load a CLIP model with open_clip.

    Parameters
    ----------
    model_name : an open_clip architecture ("ViT-B-32", "lab-clip-s"), or "local-dir:/folder"
        (open_clip_config.json + weights), or "hf-hub:org/repo", or a folder written by
        save_pretrained holding a transformers CLIPModel, SiglipModel or Siglip2Model. The lab's short names ("lab",
        "lab-control") are resolved in `leakage.catalog`.
    pretrained : a pretrained tag ("openai", "laion2b_s34b_b79k") or a local checkpoint file;
        ignored for local-dir: and hf-hub: names.
    device : "auto"/None picks CUDA, then MPS, then the CPU; half precision on GPUs.
    """
    metadata: dict[str, Any] = {}
    folder = Path(model_name).expanduser()
    if folder.is_dir() and (folder / "config.json").is_file():
        return load_transformers_clip(folder, device=device)
    if folder.is_dir() and (folder / "open_clip_config.json").is_file():
        model_name = f"local-dir:{folder}"
    if model_name.endswith((".pt", ".pth", ".bin", ".safetensors")) and pretrained is None:
        raise ValueError(
            f"{model_name!r} looks like a checkpoint file: give the architecture too, "
            f"e.g. --model ViT-B-32 --pretrained {model_name}"
        )
    if pretrained and not os.path.isfile(pretrained) and ("/" in pretrained or pretrained.endswith((".pt", ".bin"))):
        raise FileNotFoundError(f"checkpoint file not found: {pretrained}")

    _check_safe_to_load(model_name, pretrained)
    _check_pretrained_is_local(model_name, pretrained)
    safe_load.forbid_dynamic_modules()
    choice = pick_device(device)
    started = time.perf_counter()
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name,
            pretrained=pretrained,
            device=choice.device,
            precision="fp16" if choice.dtype == "float16" else "fp32",
            weights_only=True,  # pickle checkpoints: tensors only, never code
        )
    except (OSError, RuntimeError) as error:
        if _looks_like_network_error(error):
            raise HubUnavailableError(model_name, error) from error
        raise
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name, **_tokenizer_options(model_name))
    load_seconds = time.perf_counter() - started
    return LoadedClip(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        device=choice,
        model_name=model_name,
        pretrained=pretrained,
        fingerprint=model_fingerprint(model),
        load_seconds=load_seconds,
        metadata=metadata,
    )


def _looks_like_network_error(error: BaseException) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(word in text for word in ("offline", "connection", "resolve", "hub", "download", "localentrynotfound"))


# --------------------------------------------------------------------------------------------
# transformers CLIP-like models
# --------------------------------------------------------------------------------------------

TRANSFORMERS_CLIP_TEXT_PADDING = {"clip": "longest", "siglip": "max_length", "siglip2": "max_length"}
"""How each family's texts are padded: CLIP pools at the end-of-text token under a causal mask, so
padding cannot change it; SigLIP pools at the last position and was trained on texts padded to
the full length, without an attention mask."""


class TransformersClip(torch.nn.Module):
    """A transformers CLIPModel / SiglipModel / Siglip2Model with open_clip's encoding interface."""

    def __init__(self, model: torch.nn.Module, spatial_shape: torch.Tensor | None = None):
        super().__init__()
        self.model = model
        self.logit_scale = model.logit_scale
        self.logit_bias = getattr(model, "logit_bias", None)
        self.register_buffer("spatial_shape", spatial_shape, persistent=False)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.spatial_shape is None:
            return self.model.get_image_features(pixel_values=pixels).pooler_output
        # Siglip2 (NaFlex): patches with their mask packed as one more column (see TransformersImagePreprocess).
        patches, mask = pixels[..., :-1], pixels[..., -1] > 0.5
        shapes = self.spatial_shape.expand(pixels.shape[0], 2)
        return self.model.get_image_features(pixel_values=patches, pixel_attention_mask=mask, spatial_shapes=shapes).pooler_output

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.get_text_features(input_ids=tokens).pooler_output


class TransformersImagePreprocess:
    """PIL image to the model's pixel tensor, through the model's own image processor.

    Siglip2's NaFlex processor makes patches plus a mask and a grid shape per image; images are
    made square first (stretched to their longer side) so every image has the same grid, and the
    mask travels as one more column of the patch tensor (a plain tensor per image, as the data
    loaders expect). Square images go through exactly as the processor alone would take them.
    """

    def __init__(self, image_processor: Any, square: bool = False):
        self.image_processor = image_processor
        self.square = square

    def __call__(self, image: Any) -> torch.Tensor:
        image = image.convert("RGB")
        if not self.square:
            return self.image_processor(images=image, return_tensors="pt")["pixel_values"][0]
        if image.width != image.height:
            side = max(image.size)
            image = image.resize((side, side), resample=getattr(self.image_processor, "resample", None) or Image.Resampling.BICUBIC)
        out = self.image_processor(images=image, return_tensors="pt")
        return torch.cat([out["pixel_values"][0], out["pixel_attention_mask"][0, :, None].to(out["pixel_values"].dtype)], dim=1)

    def __repr__(self) -> str:
        # The image-embedding cache is keyed on this text: it must change when the processing does.
        settings = hashlib.sha256(self.image_processor.to_json_string().encode()).hexdigest()[:12]
        return f"TransformersImagePreprocess({type(self.image_processor).__name__}, {settings}, square={self.square})"


class TransformersTokenizer:
    """Texts to a LongTensor of token ids, padded as the model family expects."""

    def __init__(self, tokenizer: Any, padding: str, max_length: int):
        self.tokenizer, self.padding, self.max_length = tokenizer, padding, max_length

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.tokenizer(texts, padding=self.padding, max_length=self.max_length, truncation=True, return_tensors="pt")["input_ids"]


def load_transformers_clip(folder: Path, device: str | None = None) -> LoadedClip:
    """A CLIPModel, SiglipModel or Siglip2Model folder (model, image processor and tokenizer saved with save_pretrained)."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    folder = safe_load.check_model_folder(folder)  # no model code, no file outside the folder or the roots
    safe_load.forbid_dynamic_modules()
    config = json.loads((folder / "config.json").read_text())
    model_type = config.get("model_type")
    if model_type not in TRANSFORMERS_CLIP_TEXT_PADDING:
        raise ValueError(
            f"{folder} holds a transformers {model_type!r} model; the CLIP tools take CLIPModel, SiglipModel or Siglip2Model "
            f"folders ({', '.join(TRANSFORMERS_CLIP_TEXT_PADDING)})"
        )
    _require_files(folder, "the image processor", ("preprocessor_config.json", "processor_config.json"), "processor.save_pretrained(folder)")
    _require_files(folder, "the tokenizer", ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json"), "tokenizer.save_pretrained(folder)")
    choice = pick_device(device)
    started = time.perf_counter()
    try:
        image_processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True, **safe_load.NO_REMOTE_CODE)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **safe_load.NO_REMOTE_CODE)
        model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=choice.torch_dtype, weights_only=True,
                                          **safe_load.NO_REMOTE_CODE)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(f"{folder} does not hold a complete {model_type} model saved with save_pretrained ({error})") from error
    text_config = model.config.text_config
    spatial_shape = None
    if model_type == "siglip2":
        side = math.isqrt(int(image_processor.max_num_patches))  # the processor's grid for any square image
        spatial_shape = torch.tensor([[side, side]])
    wrapped = TransformersClip(model, spatial_shape).to(choice.device).eval()
    return LoadedClip(
        model=wrapped,
        preprocess=TransformersImagePreprocess(image_processor, square=model_type == "siglip2"),
        tokenizer=TransformersTokenizer(tokenizer, TRANSFORMERS_CLIP_TEXT_PADDING[model_type], text_config.max_position_embeddings),
        device=choice,
        model_name=str(folder.resolve()),
        pretrained=None,
        fingerprint=model_fingerprint(model),
        load_seconds=time.perf_counter() - started,
        metadata={"library": "transformers", "architecture": type(model).__name__, "model_type": model_type},
    )


def _require_files(folder: Path, what: str, any_of: Sequence[str], how: str) -> None:
    if not any((folder / name).is_file() for name in any_of):
        raise FileNotFoundError(f"{folder} is missing {what} (none of {', '.join(any_of)}): save it next to the model with {how}")


def load_preprocess(model_name: str) -> Callable:
    """The evaluation transform of an open_clip architecture, without building the model."""
    vision_cfg = open_clip.get_model_config(model_name)["vision_cfg"]
    return open_clip.image_transform(vision_cfg["image_size"], is_train=False)


def list_open_clip_pretrained() -> list[tuple[str, str]]:
    """(architecture, tag) pairs that open_clip knows, for pickers in the UI."""
    return [(name, tag) for name, tag in open_clip.list_pretrained()]
