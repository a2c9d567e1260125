"""CLIP models from transformers (CLIPModel, SiglipModel, Siglip2Model folders written by
save_pretrained) behind the same interface as open_clip's, and offline failures that are fast and clear."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakage.hub import HubUnavailableError
from leakage.idia import DEFAULT_TEMPLATES
from leakage.models import load_clip
from leakage.text_embeddings import encode_prompts

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CLIP_FAMILIES = ("clip", "siglip", "siglip2")
TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)


def test_every_transformers_clip_family_the_loader_takes_is_tested():
    from leakage.models import TRANSFORMERS_CLIP_TEXT_PADDING

    assert tuple(TRANSFORMERS_CLIP_TEXT_PADDING) == CLIP_FAMILIES


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """4 people, 2 portraits each, in the folder layout the tools read."""
    from test_vlm import write_people

    from leakage.lab.world import make_world

    from leakage.lab.portraits import render

    world = make_world(seed=0, n_identities=4)
    pictures = {person.name: [render(person, index, world_seed=0, size=64)[0] for index in range(2)] for person in world.identities}
    members = {name: index % 2 == 0 for index, name in enumerate(sorted(pictures))}
    return write_people(tmp_path_factory.mktemp("people"), pictures, members), sorted(pictures)


def tiny_tokenizer(names):
    from tokenizers.processors import TemplateProcessing

    from leakage.lab.vlm import split_words, word_level_tokenizer

    words = {word for text in list(DEFAULT_TEMPLATES) + list(names) for word in split_words(text.replace("{}", " "))}
    tokenizer = word_level_tokenizer(sorted(words), image_token=None)
    # CLIP's and SigLIP's tokenizers end every text with the end-of-text token their pooling looks for.
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", tokenizer.eos_token_id)])
    return tokenizer


def build_clip_family(family: str, folder: Path, names) -> Path:
    import transformers as tf

    tokenizer = tiny_tokenizer(names)
    text = dict(vocab_size=len(tokenizer), max_position_embeddings=16, pad_token_id=0, bos_token_id=2, eos_token_id=3, **TINY)
    torch.manual_seed(0)
    if family == "clip":
        config = tf.CLIPConfig(text_config=text, vision_config=dict(image_size=32, patch_size=16, **TINY), projection_dim=16)
        model = tf.CLIPModel(config)
        processor = tf.CLIPProcessor(image_processor=tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tokenizer=tokenizer)
    elif family == "siglip":
        config = tf.SiglipConfig(text_config=text, vision_config=dict(image_size=32, patch_size=16, **TINY))
        model = tf.SiglipModel(config)
        processor = tf.SiglipProcessor(image_processor=tf.SiglipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    else:
        config = tf.Siglip2Config(text_config=text, vision_config=dict(num_patches=4, patch_size=16, **TINY))
        model = tf.Siglip2Model(config)
        processor = tf.Siglip2Processor(image_processor=tf.Siglip2ImageProcessor(patch_size=16, max_num_patches=4), tokenizer=tokenizer)
    with torch.no_grad():  # a scale and bias away from their neutral initial values, so that both are exercised
        model.logit_scale.fill_(2.0)
        if hasattr(model, "logit_bias"):
            model.logit_bias.fill_(-1.5)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)  # image processor and tokenizer, as a user saves them
    return folder


@pytest.fixture(scope="module", params=CLIP_FAMILIES)
def clip_folder(request, people, tmp_path_factory):
    return request.param, build_clip_family(request.param, tmp_path_factory.mktemp(request.param), people[1])


def test_zero_shot_logits_and_top1_equal_transformers_own(clip_folder, people):
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    family, folder = clip_folder
    root, names = people
    images = [Image.open(path).convert("RGB") for path in sorted(root.glob("*/*.png"))]
    prompts = [DEFAULT_TEMPLATES[0].format(name) for name in names]

    clip = load_clip(str(folder), device="cpu")
    assert clip.describe()["architecture"] == {"clip": "CLIPModel", "siglip": "SiglipModel", "siglip2": "Siglip2Model"}[family]
    with torch.inference_mode():
        image_features = torch.nn.functional.normalize(clip.model.encode_image(torch.stack([clip.preprocess(image) for image in images])), dim=-1)
    text_features = torch.from_numpy(encode_prompts(clip, prompts))
    bias = float(clip.model.logit_bias) if getattr(clip.model, "logit_bias", None) is not None else 0.0
    ours = float(clip.model.logit_scale.exp()) * image_features @ text_features.T + bias

    model = AutoModel.from_pretrained(folder).eval()
    tokenizer, image_processor = AutoTokenizer.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder)
    padding = "longest" if family == "clip" else "max_length"  # SigLIP's documented use: texts padded to the full length
    texts = tokenizer(prompts, padding=padding, max_length=16, return_tensors="pt")
    if family != "clip":
        texts.pop("attention_mask")  # SigLIP's tokenizers return none: it attends to its padding
    with torch.no_grad():
        theirs = model(**texts, **image_processor(images=images, return_tensors="pt")).logits_per_image
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-4)
    assert torch.equal(ours.argmax(dim=1), theirs.argmax(dim=1))


def test_idia_cli_runs_on_a_transformers_folder(clip_folder, people, tmp_path, monkeypatch):
    from leakage.cli import main

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    family, folder = clip_folder
    out = tmp_path / "idia.json"
    code = main(["idia", "--model", str(folder), "--data", str(people[0]), "--names", "8", "--images-per-person", "2", "--draws", "2",
                 "--workers", "0", "--device", "cpu", "--json", str(out), "--no-store", "--quiet"])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["metrics"]["n_identities"] == 4 and result["model"]["architecture"].lower().startswith(family)


def test_incomplete_transformers_folder_is_reported(people, tmp_path):
    folder = build_clip_family("siglip", tmp_path / "model", people[1])
    (folder / "processor_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing the image processor.*processor_config.json.*save_pretrained"):
        load_clip(str(folder), device="cpu")


def test_open_clip_siglip_without_its_hub_tokenizer_fails_fast(tmp_path, monkeypatch, people, capsys):
    monkeypatch.delenv("LEAKAGE_ALLOW_DOWNLOADS", raising=False)
    weights = tmp_path / "siglip.bin"
    weights.write_bytes(b"\0" * 16)
    started = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="timm/ViT-B-16-SigLIP/tokenizer_config.json") as caught:
        load_clip("ViT-B-16-SigLIP", str(weights), device="cpu")
    assert time.perf_counter() - started < 2.0
    assert "huggingface-cli download timm/ViT-B-16-SigLIP" in str(caught.value) and "hf_tokenizer_name" in str(caught.value)

    # The command line says the same, as an error line and an exit code, not a traceback.
    from leakage.cli import main

    started = time.perf_counter()
    code = main(["idia", "--model", "ViT-B-16-SigLIP", "--pretrained", str(weights), "--data", str(people[0]), "--device", "cpu", "--no-store"])
    assert time.perf_counter() - started < 2.0
    assert code != 0 and "timm/ViT-B-16-SigLIP/tokenizer_config.json" in capsys.readouterr().err


def test_local_dir_whose_config_names_a_hub_tokenizer_fails_fast(tmp_path, monkeypatch):
    import open_clip

    monkeypatch.delenv("LEAKAGE_ALLOW_DOWNLOADS", raising=False)
    config = open_clip.get_model_config("ViT-B-16-SigLIP")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    started = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="timm/ViT-B-16-SigLIP/tokenizer_config.json"):
        load_clip(f"local-dir:{tmp_path}", device="cpu")
    assert time.perf_counter() - started < 2.0
