"""The GPU paths against the CPU, on a machine with CUDA: MTCNN's boxes on real photographs (scikit-image's),
batched, with images per second on each device; and a small open_clip model (random weights, seed 0) loaded
through `leakage.models.load_clip` on each device, its image and text embeddings compared.

    python -m bench.gpu_paths            # prints JSON; writes bench/results/gpu_paths.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as photos

from leakage.faces import MTCNNDetector

PHOTOS = {"astronaut": photos.astronaut, "camera": photos.camera, "cat": photos.chelsea, "coffee": photos.coffee,
          "rocket": photos.rocket}


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def faces(device: str, batch: int = 64) -> dict:
    detector = MTCNNDetector(device)
    images = {name: Image.fromarray(load()).convert("RGB") for name, load in PHOTOS.items()}
    found = detector.detect(list(images.values()))
    boxes = {name: [[round(v, 1) for v in detection] for detection in detections] for name, detections in zip(images, found)}
    frames = [images["astronaut"].resize((512, 512))] * batch
    detector.detect(frames[:8], batch_size=8)  # warm-up (CUDA context, kernels)
    synchronize(device)
    started = time.perf_counter()
    detector.detect(frames, batch_size=batch)
    synchronize(device)
    seconds = time.perf_counter() - started
    return {"boxes": boxes, "images_per_second_512px": round(batch / seconds, 1)}


def clip_embeddings(device: str) -> tuple[np.ndarray, np.ndarray, str]:
    from leakage.models import load_clip

    torch.manual_seed(0)
    clip = load_clip("lab-clip-s", None, device="cpu")
    state = {key: value.clone() for key, value in clip.model.state_dict().items()}
    clip = load_clip("lab-clip-s", None, device=device)
    clip.model.load_state_dict(state)  # the same random weights on both devices
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)) for _ in range(16)]
    pixels = torch.stack([clip.preprocess(image) for image in images])
    tokens = clip.tokenizer([f"a photo of person {i}" for i in range(16)])
    weights = clip.model.visual.conv1.weight  # the dtype the loader chose for this device (float16 on CUDA)
    with torch.no_grad():
        image = clip.model.encode_image(pixels.to(weights.device, weights.dtype)).float().cpu().numpy()
        text = clip.model.encode_text(tokens.to(weights.device)).float().cpu().numpy()
    return image, text, f"{clip.device.description}, {weights.dtype}"


def main() -> None:
    assert torch.cuda.is_available(), "this bench needs CUDA"
    out = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}
    out["faces"] = {device: faces(device) for device in ("cpu", "cuda")}
    cpu_image, cpu_text, _ = clip_embeddings("cpu")
    gpu_image, gpu_text, description = clip_embeddings("cuda")

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return float((a * b).sum(axis=1).min())

    out["clip"] = {"cuda_device": description, "min_cosine_image_cpu_vs_cuda": round(cosine(cpu_image, gpu_image), 5),
                   "min_cosine_text_cpu_vs_cuda": round(cosine(cpu_text, gpu_text), 5)}
    print(json.dumps(out, indent=2))
    result = Path(__file__).parent / "results" / "gpu_paths.json"
    result.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
