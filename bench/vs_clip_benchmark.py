"""IDIA against clip-benchmark's zero-shot classification: the same images, model, class names
(the IDIA candidates), 21 templates, batch size and DataLoader workers, timed in one run.

theirs: clip_benchmark.metrics.zeroshot_classification: zero_shot_classifier (per class, every
        template through the model's full-context encode_text, averaged into one classifier
        vector) + run_classification (decode, preprocess, encode_image, logits) + top-1/top-5
        accuracy. Cold computes the classifier and saves it with torch.save, as its --save_clf
        does; warm loads that file, as its --load_clfs does.
ours:   leakage.idia.run_idia with the default protocol (per-template top-1, votes per person,
        repeated draws, top-5 per image, ROC metrics). Cold starts from empty prompt and image
        caches (and fills them); warm finds every prompt in the cache and encodes every image,
        the same work as theirs; rerun also reads the image embeddings back, as a rerun of the
        dashboard with other names, templates or k does.

Every figure is the work alone (model loading and imports excluded: the same for both), each
from a fresh subprocess that also reports its peak memory. On the CPU both run in float32:
clip-benchmark's amp would autocast to bfloat16 on a CPU, which is other arithmetic, so amp is
off there and on (float16) on a GPU, where our loader runs the model in float16 too.

clip-benchmark is not a dependency of the dashboard: this bench installs it with
`pip install --target <dir> clip-benchmark==1.6.2 --no-deps` on first use (the zero-shot module
needs only torch, tqdm and scikit-learn, which the dashboard already has) and puts <dir> on
sys.path for itself only. <dir> is $CLIP_BENCHMARK_SITE, else <data home>/bench-home/clip_benchmark_site.

    python -m bench.vs_clip_benchmark
    python -m bench.vs_clip_benchmark --models lab --images 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
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
    temporary_env,
    time_repeats,
    write_results,
)

MODULE = "bench.vs_clip_benchmark"
CLIP_BENCHMARK_VERSION = "1.6.2"
DEFAULT_MODELS = ("lab", "untrained:ViT-B-32")
SIZES = {"lab": (512, 1000), "untrained:ViT-B-32": (64, 100)}
"""(images, candidate names) per model by default: clip-benchmark encodes every prompt at full
context, ~40 min for ViT-B-32 x 21,000 prompts on a 2-core CPU, so ViT-B-32 runs a smaller job."""


# ---------------------------------------------------------------- clip-benchmark, kept apart from the dashboard


def clip_benchmark_site() -> Path:
    override = os.environ.get("CLIP_BENCHMARK_SITE")
    if override:
        return Path(override)
    from leakage.provenance import data_home

    return data_home() / "bench-home" / "clip_benchmark_site"


def ensure_clip_benchmark() -> Path:
    """clip-benchmark installed into its own folder (no dependencies pulled: the ones its zero-shot module needs are here)."""
    site = clip_benchmark_site()
    if not (site / "clip_benchmark" / "metrics" / "zeroshot_classification.py").is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--target", str(site), f"clip-benchmark=={CLIP_BENCHMARK_VERSION}"],
            check=True,
        )
    return site


def zeroshot_module():
    """clip_benchmark.metrics.zeroshot_classification, imported from its own folder."""
    site = str(clip_benchmark_site())
    if site not in sys.path:
        sys.path.append(site)  # appended: it must never shadow the dashboard's own packages
    from clip_benchmark.metrics import zeroshot_classification

    return zeroshot_classification


class LabelledImages:
    """(image tensor, class index) per path, loaded the way torchvision's ImageFolder loads (clip-benchmark's usual input)."""

    def __init__(self, paths: Sequence[str], targets: Sequence[int], transform) -> None:
        self.paths, self.targets, self.transform = list(paths), list(targets), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        from torchvision.datasets.folder import default_loader

        return self.transform(default_loader(self.paths[index])), self.targets[index]


def topk_accuracy(logits, target, topk: Sequence[int]) -> list[float]:
    """clip-benchmark's accuracy(), same arithmetic: its own calls float() on a one-element array,
    which NumPy 2 refuses ("only 0-dimensional arrays can be converted to Python scalars")."""
    predicted = logits.topk(max(topk), 1, True, True)[1].t()
    correct = predicted.eq(target.view(1, -1).expand_as(predicted))
    return [correct[:k].reshape(-1).float().sum().item() / len(target) for k in topk]


# ---------------------------------------------------------------- the shared job


def _job(model: str, data: str, n_images: int, n_names: int, device: str | None):
    """Model, dataset subset, images, candidates and each image's true candidate: identical for both sides."""
    from leakage.idia import IDIAConfig, candidate_names, collect_images

    clip = load_bench_model(model, device)
    dataset = bench_dataset(data, n_images)
    # Every image of every person, as clip-benchmark classifies them all: k = the largest folder, nobody left out.
    most = max(len(records) for records in dataset.people.values())
    config = IDIAConfig(n_candidates=n_names, images_per_person=most, keep_short=True)
    images, by_person, _ = collect_images(dataset, config)
    candidates = candidate_names(sorted(by_person), config.n_candidates, config.seed)
    index = {name: i for i, name in enumerate(candidates)}
    return clip, dataset, config, images, candidates, [index[image.person] for image in images]


def _warm_up(clip, batch_size: int) -> None:
    """The same first-call warm-up for both sides, outside the timings."""
    import torch

    from bench.idia_pipeline import _input_shape

    with torch.inference_mode():
        clip.model.encode_image(torch.zeros(batch_size, *_input_shape(clip), dtype=clip.device.torch_dtype, device=clip.device.device))
        clip.model.encode_text(clip.tokenizer(["a photo of Warm Up"] * 4).to(clip.device.device))


def measure_theirs(
    model: str, data: str, n_images: int, n_names: int, batch_size: int, num_workers: int,
    classifier_file: str, warm: bool, repeats: int, device: str | None = None,
) -> dict[str, Any]:
    """clip-benchmark zero-shot classification: cold builds and saves the classifier, warm loads it."""
    import torch

    from leakage.idia import DEFAULT_TEMPLATES

    zeroshot = zeroshot_module()
    zeroshot.tqdm = lambda iterable, *args, **kwargs: iterable  # no progress bars in the figures or the output
    clip, _, _, images, candidates, truth = _job(model, data, n_images, n_names, device)
    kind = clip.device.device.split(":")[0]
    amp = kind != "cpu"
    templates = [template.replace("{}", "{c}") for template in DEFAULT_TEMPLATES]  # their placeholder is {c}
    loader = torch.utils.data.DataLoader(
        LabelledImages([image.source for image in images], truth, clip.preprocess),
        batch_size=batch_size, num_workers=num_workers, shuffle=False, pin_memory=kind == "cuda",
    )
    _warm_up(clip, batch_size)
    rss_loaded = current_rss_mb()
    outcome: dict[str, float] = {}

    def run_once() -> None:
        if warm:
            classifier = torch.load(classifier_file, map_location="cpu").to(clip.device.device)
        else:
            classifier = zeroshot.zero_shot_classifier(clip.model, clip.tokenizer, candidates, templates, kind, amp=amp)
            torch.save(classifier, classifier_file)
        logits, target = zeroshot.run_classification(clip.model, classifier, loader, kind, amp=amp)
        outcome["acc1"], outcome["acc5"] = topk_accuracy(logits, target, (1, min(5, len(candidates))))

    seconds = time_repeats(run_once, 1 if not warm else repeats)
    return {
        "side": "clip-benchmark", "model": model, "warm": warm, "amp": amp,
        "images": len(images), "names": len(candidates), "templates": len(templates),
        "acc1": round(outcome["acc1"], 4), "acc5": round(outcome["acc5"], 4),
        "rss_after_load_mb": rss_loaded, **summarize(seconds, len(images)),
    }


def measure_ours(
    model: str, data: str, n_images: int, n_names: int, batch_size: int, num_workers: int,
    cache_home: str, warm: bool, repeats: int, device: str | None = None, image_cache: bool = False,
) -> dict[str, Any]:
    """run_idia on the same job: cold with empty caches (it fills them), warm with the prompt cache
    filled; with image_cache, a rerun that also reads the image embeddings back."""
    from leakage.context import RunContext
    from leakage.idia import run_idia

    clip, dataset, config, images, candidates, _ = _job(model, data, n_images, n_names, device)
    runtime = RunContext(batch_size=batch_size, num_workers=num_workers, use_text_cache=True, use_image_cache=image_cache)
    _warm_up(clip, batch_size)
    rss_loaded = current_rss_mb()
    results = []
    with temporary_env(LEAKAGE_HOME=cache_home):  # set only now: the lab itself lives in the real data home
        seconds = time_repeats(lambda: results.append(run_idia(clip, dataset, config, runtime)), 1 if not warm else repeats)
    result = results[-1]
    cache = result.details["text_cache"]
    if warm and cache["encoded"] or not warm and cache["from_cache"]:
        raise RuntimeError(f"the prompt cache was not {'warm' if warm else 'empty'}: {cache}")
    images_cached = result.details["image_cache"]["from_cache"]
    if images_cached != (len(images) if warm and image_cache else 0):
        raise RuntimeError(f"the image cache was not as asked (warm={warm}, image_cache={image_cache}): {result.details['image_cache']}")
    rows = result.images
    top1 = sum(row["top"][0]["name"] == row["person"] for row in rows) / len(rows)
    accuracies = result.details["per_template_accuracy"]
    return {
        "side": "IDIA", "model": model, "warm": warm,
        "images": len(images), "names": len(candidates), "templates": len(config.templates),
        "acc1_mean_probability": round(top1, 4),
        "acc1_per_template_mean": round(sum(accuracies) / len(accuracies), 4),
        "stage_seconds": result.timing, "text_cache": cache, "image_cache": result.details["image_cache"],
        "rss_after_load_mb": rss_loaded, **summarize(seconds, len(images)),
    }


MEASUREMENTS = {"theirs": measure_theirs, "ours": measure_ours}


def merge_rounds(parts: Sequence[dict]) -> dict:
    """One figure from several subprocesses of the same measurement: all their repeats, the highest peak memory."""
    merged = dict(parts[-1])
    merged.update(summarize([s for part in parts for s in part["seconds"]], parts[0]["items"]))
    merged["rounds"] = len(parts)
    merged["peak_rss_mb"] = max(part["peak_rss_mb"] for part in parts)
    merged["peak_child_rss_mb"] = max(part["peak_child_rss_mb"] for part in parts)
    return merged


def run(
    models: Sequence[str] = DEFAULT_MODELS,
    data: str = "lab",
    n_images: int | None = None,
    n_names: int | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    repeats: int = 3,
    device: str | None = None,
    isolate: bool = True,
    results_dir: Path | None = None,
    rounds: int = 2,
) -> dict[str, Any]:
    """Cold and warm, theirs and ours, per model; print the table, write the JSON."""
    from leakage.idia import NUM_WORKERS

    ensure_clip_benchmark()
    workers = NUM_WORKERS if num_workers is None else num_workers
    per_model: dict[str, Any] = {}
    rows = []
    for model in models:
        images, names = SIZES.get(model, (512, 1000))
        images, names = n_images or images, n_names or names
        bench_dataset(data, images)  # build or wait for the lab here, not inside a timed subprocess
        scratch = Path(tempfile.mkdtemp(prefix="bench-vs-cb-"))
        job = {"model": model, "data": data, "n_images": images, "n_names": names, "batch_size": batch_size,
               "num_workers": workers, "repeats": repeats, "device": device}
        theirs_files = {"classifier_file": str(scratch / "classifier.pt")}
        ours_files = {"cache_home": str(scratch / "home")}
        quiet = {"TQDM_DISABLE": "1"}
        try:
            figures = {
                "theirs_cold": measure(MODULE, "theirs", {**job, **theirs_files, "warm": False}, isolate=isolate, env=quiet),
                # a first run: both of our caches empty, filled on the way
                "ours_cold": measure(MODULE, "ours", {**job, **ours_files, "warm": False, "image_cache": True}, isolate=isolate),
            }
            warm_rounds: dict[str, list[dict]] = {"theirs_warm": [], "ours_warm": [], "ours_rerun": []}
            for _ in range(rounds):  # alternated, so a change in the machine's load hits both sides alike
                warm_rounds["theirs_warm"].append(measure(MODULE, "theirs", {**job, **theirs_files, "warm": True}, isolate=isolate, env=quiet))
                # the same work as theirs: prompts from the cache, every image decoded and encoded
                warm_rounds["ours_warm"].append(measure(MODULE, "ours", {**job, **ours_files, "warm": True}, isolate=isolate))
                # what a rerun with other names, templates or k costs: image embeddings read back too
                warm_rounds["ours_rerun"].append(measure(MODULE, "ours", {**job, **ours_files, "warm": True, "image_cache": True}, isolate=isolate))
            figures.update({key: merge_rounds(parts) for key, parts in warm_rounds.items()})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        theirs_for = {"cold": "theirs_cold", "warm": "theirs_warm", "rerun": "theirs_warm"}
        ratio = {
            state: round(figures[f"ours_{state}"]["median_seconds"] / figures[theirs]["median_seconds"], 3)
            for state, theirs in theirs_for.items()
        }
        best_ratio = {
            state: round(figures[f"ours_{state}"]["best_seconds"] / figures[theirs]["best_seconds"], 3)
            for state, theirs in theirs_for.items()
        }
        per_model[model] = {**figures, "ours_over_theirs_seconds": ratio, "ours_over_theirs_best_seconds": best_ratio}
        for key, label in (("theirs_cold", "clip-benchmark cold"), ("ours_cold", "IDIA cold"), ("theirs_warm", "clip-benchmark warm"),
                           ("ours_warm", "IDIA warm"), ("ours_rerun", "IDIA rerun, image cache")):
            state = key.split("_")[1]
            rows.append({
                "model": model, "run": label, "images": figures[key]["images"], "names": figures[key]["names"],
                "s median": figures[key]["median_seconds"],
                "s best": figures[key]["best_seconds"],
                "ours/theirs median": ratio[state] if key.startswith("ours") else None,
                "ours/theirs best": best_ratio[state] if key.startswith("ours") else None,
                "peak MiB": figures[key]["peak_rss_mb"],
            })
    payload = {
        "bench": "vs_clip_benchmark",
        "machine": machine_details(device),
        "clip_benchmark": {"version": CLIP_BENCHMARK_VERSION, "site": str(clip_benchmark_site())},
        "settings": {"data": data, "batch_size": batch_size, "num_workers": workers, "repeats": repeats, "warm_rounds": rounds, "templates": 21},
        "target": {"ours_over_theirs_seconds_at_most": 1.0},
        "models": per_model,
    }
    path = write_results("vs_clip_benchmark", payload, results_dir)
    print(format_table(rows, ["model", "run", "images", "names", "s median", "s best", "ours/theirs median", "ours/theirs best", "peak MiB"]))
    print(f"\nwritten to {path}")
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--data", default="lab")
    parser.add_argument("--images", type=int, default=None, help="default: 512 for lab, 64 for ViT-B-32")
    parser.add_argument("--names", type=int, default=None, help="candidate names; default: 1000 for lab, 100 for ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers for both sides (default: the IDIA's, leakage.idia.NUM_WORKERS)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each warm run per round (a cold run happens once)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating theirs/ours warm subprocesses")
    parser.add_argument("--device", default=None)
    parser.add_argument("--in-process", action="store_true", help="no subprocess per measurement (memory figures then not isolated)")
    args = parser.parse_args(argv)
    if args.measure:
        answer_measurement(MEASUREMENTS, args.measure)
        return
    run(args.models, args.data, args.images, args.names, args.batch_size, args.workers, args.repeats, args.device, not args.in_process, rounds=args.rounds)


if __name__ == "__main__":
    main(sys.argv[1:])
