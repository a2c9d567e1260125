"""IDIA image side against the bare encoder: how close the whole pipeline gets to what the model allows.

pipeline: decode the PNGs from disk, preprocess, encode (leakage.idia.embed_images: DataLoader
          over ImageTensorDataset + collate_skip_failures) and score every image against warm text
          embeddings of 21 templates x 1,000 candidates (score_images);
bare:     model.encode_image alone on tensors made beforehand, same model, batch size, device.

The text embeddings are random unit vectors of the real shape: scoring costs the same whatever
their values, and the text side has its own bench (bench.text_embeddings). Each figure comes from
a fresh subprocess (warm-up, then repeats, median and best) that also reports its peak memory.
The pipeline is measured with 0, 1 and 2 DataLoader workers: on a 2-core CPU the workers compete
with torch's intra-op threads, so the best setting is measured, not assumed.

    python -m bench.idia_pipeline                       # lab CLIP + untrained ViT-B-32, 256 images
    python -m bench.idia_pipeline --models untrained:ViT-B-32 --images 512 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from bench import (
    answer_measurement,
    bench_dataset,
    current_rss_mb,
    format_table,
    load_bench_model,
    machine_details,
    measure,
    summarize,
    synchronize,
    time_repeats,
    write_results,
)

DEFAULT_MODELS = ("lab", "untrained:ViT-B-32")
DEFAULT_WORKERS = (0, 1, 2)
MODULE = "bench.idia_pipeline"
TARGET_RATIO = 0.85
"""Issue 7: on the 2-core CPU the pipeline reaches 0.85 of the bare encoder for ViT-B-32 at batch 64."""


def _attack_images(data: str, n_images: int) -> list:
    from leakage.idia import IDIAConfig, collect_images

    images, _, _ = collect_images(bench_dataset(data, n_images), IDIAConfig())
    return images[:n_images]


def _batch_sizes(n_images: int, batch_size: int) -> list[int]:
    return [min(batch_size, n_images - start) for start in range(0, n_images, batch_size)]


def measure_bare(model: str, data: str, n_images: int, batch_size: int, repeats: int, device: str | None = None) -> dict[str, Any]:
    """model.encode_image over n_images in batches, from one real preprocessed batch reused (compute does not depend on pixel values)."""
    import torch

    from leakage.data import load_image

    clip = load_bench_model(model, device)
    images = _attack_images(data, n_images)
    batch = torch.stack([clip.preprocess(load_image(image.source)) for image in images[:batch_size]])
    batch = batch.to(clip.device.device, clip.device.torch_dtype)
    sizes = _batch_sizes(len(images), batch_size)
    rss_loaded = current_rss_mb()

    @torch.inference_mode()
    def encode_all() -> None:
        for size in sizes:
            clip.model.encode_image(batch[:size])
        synchronize(clip.device.device)

    with torch.inference_mode():  # warm-up: first-call allocations and kernel choices
        clip.model.encode_image(batch)
        synchronize(clip.device.device)
    return {
        "mode": "bare",
        "model": model,
        "torch_threads": torch.get_num_threads(),
        "rss_after_load_mb": rss_loaded,
        **summarize(time_repeats(encode_all, repeats), len(images)),
    }


def measure_pipeline(
    model: str,
    data: str,
    n_images: int,
    batch_size: int,
    num_workers: int,
    repeats: int,
    n_candidates: int = 1000,
    device: str | None = None,
) -> dict[str, Any]:
    """embed_images + score_images over the same images, as run_idia runs them (a new DataLoader each run)."""
    import numpy as np
    import torch

    from leakage.context import RunContext
    from leakage.idia import DEFAULT_TEMPLATES, candidate_names, embed_images, score_images

    clip = load_bench_model(model, device)
    images = _attack_images(data, n_images)
    people = sorted({image.person for image in images})
    candidates = candidate_names(people, n_candidates, 0)
    index = {name: i for i, name in enumerate(candidates)}
    truth = np.array([index[image.person] for image in images])
    logit_scale = float(clip.model.logit_scale.detach().exp()) if hasattr(clip.model, "logit_scale") else 100.0
    runtime = RunContext(batch_size=batch_size, num_workers=num_workers, use_image_cache=False)  # the pipeline itself, every time
    rss_loaded = current_rss_mb()

    with torch.inference_mode():  # the same warm-up as the bare encoder gets
        probe = torch.zeros(min(batch_size, len(images)), *_input_shape(clip), dtype=clip.device.torch_dtype, device=clip.device.device)
        dim = clip.model.encode_image(probe).shape[-1]
    rng = np.random.default_rng(0)
    text = rng.standard_normal((len(DEFAULT_TEMPLATES), len(candidates), dim), dtype=np.float32)
    text /= np.linalg.norm(text, axis=-1, keepdims=True)
    for image in images:  # the bare encoder never reads a file: give both the same warm page cache
        with open(image.source, "rb") as handle:
            handle.read()

    encode_seconds: list[float] = []
    score_seconds: list[float] = []

    def run_once() -> None:
        import time

        started = time.perf_counter()
        features, failures, _ = embed_images(clip, images, runtime)
        encoded = time.perf_counter()
        score_images(np.nan_to_num(features), text, truth, logit_scale, 5)
        encode_seconds.append(encoded - started)
        score_seconds.append(time.perf_counter() - encoded)
        if failures:
            raise RuntimeError(f"{len(failures)} images failed to load: {list(failures.values())[:3]}")

    total = time_repeats(run_once, repeats)
    return {
        "mode": "pipeline",
        "model": model,
        "num_workers": num_workers,
        "n_candidates": len(candidates),
        "n_templates": len(DEFAULT_TEMPLATES),
        "torch_threads": torch.get_num_threads(),
        "rss_after_load_mb": rss_loaded,
        "encode_seconds": [round(s, 4) for s in encode_seconds],
        "score_seconds": [round(s, 4) for s in score_seconds],
        **summarize(total, len(images)),
    }


def measure_stages(model: str, data: str, n_images: int, batch_size: int, n_candidates: int = 1000, device: str | None = None) -> dict[str, Any]:
    """CPU milliseconds per image of each stage, on one thread: what the pipeline must pay beyond the encoder.

    Thread CPU time barely moves when other processes share the cores, unlike wall time, so these
    figures hold on a busy machine. serial_ceiling = encode / all stages is the ratio a pipeline
    that does not overlap decoding with encoding can reach; overlapping can only help where the
    encoder leaves cores idle (a GPU, a model too small to use them).
    """
    import time

    import numpy as np
    import torch

    from leakage.data import load_image
    from leakage.idia import DEFAULT_TEMPLATES, score_images

    clip = load_bench_model(model, device)
    images = _attack_images(data, n_images)
    threads = torch.get_num_threads()
    started = time.perf_counter()  # the same transforms with every thread: what a worker-less DataLoader paid before it went single-threaded
    for image in images:
        clip.preprocess(load_image(image.source))
    all_threads = (time.perf_counter() - started) / len(images) * 1000
    torch.set_num_threads(1)
    try:
        clock = time.thread_time
        started = clock()
        decoded = [load_image(image.source) for image in images]
        decode = clock() - started
        started = clock()
        tensors = torch.stack([clip.preprocess(image) for image in decoded])
        preprocess = clock() - started
        with torch.inference_mode():
            clip.model.encode_image(tensors[:batch_size])  # warm-up
            started = clock()
            features = torch.cat([clip.model.encode_image(tensors[i : i + batch_size]) for i in range(0, len(images), batch_size)])
            encode = clock() - started
        features = torch.nn.functional.normalize(features.float(), dim=-1).numpy()
        rng = np.random.default_rng(0)
        text = rng.standard_normal((len(DEFAULT_TEMPLATES), n_candidates, features.shape[1]), dtype=np.float32)
        text /= np.linalg.norm(text, axis=-1, keepdims=True)
        started = clock()
        score_images(features, text, np.zeros(len(images), dtype=np.int64), 100.0, 5)
        score = clock() - started
    finally:
        torch.set_num_threads(threads)
    per_image = {name: round(value / len(images) * 1000, 3) for name, value in
                 (("decode", decode), ("preprocess", preprocess), ("encode", encode), ("score", score))}
    return {
        "model": model,
        "images": len(images),
        "cpu_ms_per_image_one_thread": per_image,
        "serial_ceiling": round(encode / (decode + preprocess + encode + score), 3),
        "decode_preprocess_wall_ms_per_image_all_threads": round(all_threads, 3),
        "torch_threads": threads,
    }


def _input_shape(clip) -> tuple[int, int, int]:
    size = clip.model.visual.image_size
    size = size if isinstance(size, (tuple, list)) else (size, size)
    return (3, *size)


MEASUREMENTS = {"bare": measure_bare, "pipeline": measure_pipeline, "stages": measure_stages}


def run(
    models: Sequence[str] = DEFAULT_MODELS,
    data: str = "lab",
    n_images: int = 256,
    batch_size: int = 64,
    workers: Sequence[int] = DEFAULT_WORKERS,
    repeats: int = 3,
    n_candidates: int = 1000,
    device: str | None = None,
    isolate: bool = True,
    results_dir: Path | None = None,
) -> dict[str, Any]:
    """Measure every model bare and through the pipeline per worker count; print the table, write the JSON."""
    bench_dataset(data, n_images)  # build or wait for the lab here, not inside a timed subprocess
    per_model: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    stage_rows: list[dict[str, Any]] = []
    for model in models:
        common = {"model": model, "data": data, "n_images": n_images, "batch_size": batch_size, "repeats": repeats, "device": device}
        bare = measure(MODULE, "bare", common, isolate=isolate)
        pipelines = {
            str(w): measure(MODULE, "pipeline", {**common, "num_workers": w, "n_candidates": n_candidates}, isolate=isolate)
            for w in workers
        }
        ratios = {w: round(p["per_second_median"] / bare["per_second_median"], 3) for w, p in pipelines.items()}
        best_ratios = {w: round(p["per_second_best"] / bare["per_second_best"], 3) for w, p in pipelines.items()}
        best_workers = max(pipelines, key=lambda w: pipelines[w]["per_second_median"])
        stages = measure(MODULE, "stages", {k: common[k] for k in ("model", "data", "n_images", "batch_size", "device")} | {"n_candidates": n_candidates}, isolate=isolate)
        stage_rows.append({
            "model": model, **stages["cpu_ms_per_image_one_thread"], "serial ceiling": stages["serial_ceiling"],
            f"decode+preprocess, {stages['torch_threads']} threads": stages["decode_preprocess_wall_ms_per_image_all_threads"],
        })
        per_model[model] = {
            "stages": stages,
            "bare": bare,
            "pipeline": pipelines,
            "ratio_median": ratios,
            "ratio_best": best_ratios,
            "best_num_workers": int(best_workers),
        }
        rows.append(_row(model, "bare encoder", bare, None, None))
        for w, p in pipelines.items():
            rows.append(_row(model, f"pipeline, {w} workers", p, ratios[w], best_ratios[w]))
    payload = {
        "bench": "idia_pipeline",
        "machine": machine_details(device),
        "settings": {"data": data, "n_images": n_images, "batch_size": batch_size, "repeats": repeats, "n_candidates": n_candidates, "workers": list(workers)},
        "target": {"model": "untrained:ViT-B-32", "ratio_at_least": TARGET_RATIO},
        "models": per_model,
    }
    path = write_results("idia_pipeline", payload, results_dir)
    print(format_table(rows, ["model", "run", "img/s median", "img/s best", "ratio median", "ratio best", "peak MiB"]))
    print("\nCPU ms per image on one thread (steady on a busy machine):")
    print(format_table(stage_rows, list(stage_rows[0]) if stage_rows else ["model"]))
    print(f"\nwritten to {path}")
    return payload


def _row(model: str, label: str, figures: dict, ratio: float | None, best_ratio: float | None) -> dict[str, Any]:
    return {
        "model": model,
        "run": label,
        "img/s median": figures["per_second_median"],
        "img/s best": figures["per_second_best"],
        "ratio median": ratio,
        "ratio best": best_ratio,
        "peak MiB": figures["peak_rss_mb"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="lab, untrained:ARCH, or an open_clip name")
    parser.add_argument("--data", default="lab", help="lab or a dataset folder")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=list(DEFAULT_WORKERS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--device", default=None)
    parser.add_argument("--in-process", action="store_true", help="no subprocess per measurement (memory figures then not isolated)")
    args = parser.parse_args(argv)
    if args.measure:
        answer_measurement(MEASUREMENTS, args.measure)
        return
    run(args.models, args.data, args.images, args.batch_size, args.workers, args.repeats, args.candidates, args.device, not args.in_process)


if __name__ == "__main__":
    main(sys.argv[1:])
