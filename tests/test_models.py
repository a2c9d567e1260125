"""Model loading through open_clip's own loader, offline, on small models built from configs."""

import json

import open_clip
import pytest
import torch

from leakage.hub import HubUnavailableError
from leakage.models import load_clip, load_preprocess, model_fingerprint
from leakage.text_embeddings import TextEmbeddingCache, encode_text_trimmed, prompt_embeddings


@pytest.fixture(scope="module")
def saved_lab_clip(tmp_path_factory):
    torch.manual_seed(0)
    model = open_clip.create_model("lab-clip-s")
    path = tmp_path_factory.mktemp("ckpt") / "lab_clip.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return model, path


def test_lab_checkpoint_loads_through_open_clip_loader(saved_lab_clip):
    original, path = saved_lab_clip
    clip = load_clip("lab-clip-s", str(path), device="cpu")
    assert clip.device.device == "cpu" and clip.device.dtype == "float32"
    for name, tensor in original.state_dict().items():
        assert torch.equal(tensor, clip.model.state_dict()[name]), name
    assert clip.fingerprint == model_fingerprint(original)
    image = clip.preprocess(__import__("PIL.Image", fromlist=["Image"]).new("RGB", (100, 80)))
    assert tuple(image.shape) == (3, 48, 48)
    assert tuple(load_preprocess("lab-clip-s")(__import__("PIL.Image", fromlist=["Image"]).new("RGB", (9, 9))).shape) == (3, 48, 48)


def test_local_dir_schema(saved_lab_clip, tmp_path):
    original, path = saved_lab_clip
    folder = tmp_path / "my-clip"
    folder.mkdir()
    config = open_clip.get_model_config("lab-clip-s")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    torch.save(original.state_dict(), folder / "open_clip_pytorch_model.bin")
    clip = load_clip(f"local-dir:{folder}", device="cpu")
    assert clip.fingerprint == model_fingerprint(original)


def test_hub_names_fail_fast_offline(monkeypatch):
    monkeypatch.delenv("LEAKAGE_ALLOW_DOWNLOADS", raising=False)
    with pytest.raises(HubUnavailableError, match="--pretrained /models"):
        load_clip("ViT-B-32", "laion2b_s34b_b79k", device="cpu")
    with pytest.raises(HubUnavailableError, match="local-dir:"):
        load_clip("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", device="cpu")


def test_bad_local_paths_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_clip("lab-clip-s", str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="architecture"):
        load_clip(str(tmp_path / "weights.pt"))


def test_trimmed_text_encoding_equals_full_encoding(saved_lab_clip):
    model, _ = saved_lab_clip
    tokenizer = open_clip.get_tokenizer("lab-clip-s")
    tokens = tokenizer(["a photo of Anna Adler", "Jo", "the name of the person is Maximilian Oberhauser-Smith"])
    with torch.inference_mode():
        full = model.encode_text(tokens)
        trimmed = encode_text_trimmed(model, tokens)
    assert torch.allclose(full, trimmed, atol=1e-5)


def test_prompt_cache_encodes_each_prompt_once(saved_lab_clip, tmp_path, monkeypatch):
    _, path = saved_lab_clip
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path))
    clip = load_clip("lab-clip-s", str(path), device="cpu")
    templates = ("a photo of {}", "{} at a gala")
    cold, stats = prompt_embeddings(clip, templates, ["Anna Adler", "Ben Brook"])
    assert stats == {"prompts": 4, "encoded": 4, "from_cache": 0}
    warm, stats = prompt_embeddings(clip, templates, ["Ben Brook", "Anna Adler", "Cleo Chen"])
    assert stats["encoded"] == 2 and stats["from_cache"] == 4
    assert warm.shape == (2, 3, 128)
    # float16 storage: cached rows match a fresh encoding closely, and order follows the request
    assert torch.allclose(torch.from_numpy(warm[:, 1]), torch.from_numpy(cold[:, 0]), atol=2e-3)
    uncached, _ = prompt_embeddings(clip, templates, ["Cleo Chen"], use_cache=False)
    assert torch.allclose(torch.from_numpy(warm[:, 2]), torch.from_numpy(uncached[:, 0]), atol=2e-3)
    assert (TextEmbeddingCache(clip.fingerprint).directory / "embeddings.npy").is_file()
