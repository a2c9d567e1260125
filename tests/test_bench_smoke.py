"""The performance benches run end to end at a tiny size and write their figures.

Speed is not asserted here (the machine running the tests is no benchmark machine): only that
every bench finishes, prints its table and writes JSON whose figures exist and are positive.
A tiny dataset of random images and an untrained lab-size CLIP keep the whole file well under a minute.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from bench import measure

MODEL = "untrained:lab-clip-s"
PEOPLE = ("Ann Smith", "Bob Jones", "Cy Young")
IMAGES_PER_PERSON = 4


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("tiny-data")
    rng = np.random.default_rng(0)
    for person in PEOPLE:
        (root / person).mkdir()
        for index in range(IMAGES_PER_PERSON):
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / person / f"{index:03d}.png")
    return str(root)


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """Caches and the clip-benchmark install go to a temporary data home, never the user's."""
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))


def _positive(figures: dict, *keys: str) -> None:
    for key in keys:
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, (key, figures.get(key))


def _written(directory, name: str) -> dict:
    payload = json.loads((directory / f"{name}.json").read_text())
    assert payload["bench"] == name
    for key in ("cpu", "cores", "torch", "torch_threads", "device", "date"):
        assert payload["machine"][key], key
    return payload


def test_idia_pipeline_bench(tiny_data, tmp_path, capsys):
    from bench import idia_pipeline

    idia_pipeline.run([MODEL], tiny_data, n_images=10, batch_size=4, workers=(0, 1), repeats=2, isolate=False, results_dir=tmp_path)
    assert "pipeline, 1 workers" in capsys.readouterr().out
    figures = _written(tmp_path, "idia_pipeline")["models"][MODEL]
    _positive(figures["bare"], "per_second_median", "per_second_best", "peak_rss_mb")
    assert figures["bare"]["items"] == 10
    for workers in ("0", "1"):
        _positive(figures["pipeline"][workers], "per_second_median", "per_second_best", "peak_rss_mb")
        _positive(figures["ratio_median"], workers)
        assert len(figures["pipeline"][workers]["encode_seconds"]) == 2
    assert figures["best_num_workers"] in (0, 1)


def test_text_embeddings_bench(tiny_data, tmp_path, capsys):
    from bench import text_embeddings

    text_embeddings.run(
        [MODEL], tiny_data, n_names=12, cold_names=6, trim_names=3, repeats=2, isolate=False,
        cache_home=tmp_path / "cache-home", results_dir=tmp_path,
    )
    assert "warm (disk cache)" in capsys.readouterr().out
    figures = _written(tmp_path, "text_embeddings")["models"][MODEL]
    for cold in ("cold_no_cache", "cold_empty_cache"):
        _positive(figures[cold], "seconds", "prompts_per_second", "extrapolated_seconds_full")
        assert figures[cold]["extrapolated"] and figures[cold]["prompts"] == 6 * 21
    _positive(figures["warm"], "median_seconds", "per_second_median", "peak_rss_mb")
    assert figures["warm"]["prompts"] == 12 * 21 and figures["warm"]["filled_now"]
    trim = figures["trimmed_vs_full"]
    _positive(trim["trimmed"], "per_second_median")
    _positive(trim["full"], "per_second_median")
    assert trim["max_abs_difference"] < 1e-4  # trimming must not change the embeddings


def test_vs_clip_benchmark_bench(tiny_data, tmp_path, capsys):
    from bench import vs_clip_benchmark

    try:
        vs_clip_benchmark.ensure_clip_benchmark()
    except subprocess.CalledProcessError as error:  # no package index reachable: nothing of ours to test
        pytest.skip(f"cannot install clip-benchmark: {error}")
    vs_clip_benchmark.run([MODEL], tiny_data, n_images=8, n_names=10, batch_size=4, num_workers=0, repeats=2, isolate=False, results_dir=tmp_path, rounds=2)
    assert "clip-benchmark warm" in capsys.readouterr().out
    figures = _written(tmp_path, "vs_clip_benchmark")["models"][MODEL]
    for key in ("theirs_cold", "theirs_warm", "ours_cold", "ours_warm"):
        _positive(figures[key], "median_seconds", "per_second_median", "peak_rss_mb")
        assert figures[key]["names"] == 10 and figures[key]["images"] == 8
    assert figures["ours_cold"]["text_cache"]["encoded"] == 10 * 21
    assert figures["ours_warm"]["text_cache"]["from_cache"] == 10 * 21
    _positive(figures["ours_over_theirs_seconds"], "cold", "warm")
    assert figures["ours_warm"]["rounds"] == 2 and figures["ours_warm"]["repeats"] == 4


def test_a_measurement_runs_isolated_with_its_own_peak_memory(tiny_data):
    figures = measure("bench.idia_pipeline", "bare", {"model": MODEL, "data": tiny_data, "n_images": 4, "batch_size": 2, "repeats": 1})
    assert figures["isolated"] is True
    _positive(figures, "per_second_median", "peak_rss_mb", "rss_after_load_mb")
    assert figures["peak_rss_mb"] >= figures["rss_after_load_mb"] * 0.99
