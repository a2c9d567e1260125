"""The MIM attack on tiny ViT-MAEs: saved and reloaded through the same path as real models,
masks, the model's own loss, per-example calibration, the shadow-model threshold, broken images,
the CLI, the lab MAE and the page.

Everything here is small enough for seconds on a CPU; the models are built from configs (no
downloads) and the one training run is a real, short MAE pre-training on lab images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from transformers import ViTImageProcessor, ViTMAEConfig, ViTMAEForPreTraining

from leakage.cli import main as cli_main
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.hub import HubUnavailableError
from leakage.lab.mae import (
    LabMAEConfig,
    MAEArchitecture,
    MAETrainConfig,
    assign_roles,
    ensure_lab_mae,
    ensure_reference,
    ensure_shadow,
    fill_sincos_positions,
    lab_mae_root,
    new_mae,
    shadow_roles,
)
from leakage.metrics import best_threshold, metrics_at_threshold
from leakage.lab.world import make_world
from leakage.lab.portraits import write_dataset
from leakage.mim import (
    MIMConfig,
    image_key,
    kept_patches,
    load_mae,
    mask_noise,
    masked_errors,
    masking_ratio,
    per_sample_loss,
    reconstruct,
    run_mim,
)

REPO = Path(__file__).resolve().parent.parent
SIZE = 32


def tiny_config(norm_pix_loss: bool = False) -> ViTMAEConfig:
    return ViTMAEConfig(
        image_size=SIZE, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2, decoder_intermediate_size=64,
        norm_pix_loss=norm_pix_loss,
    )


def save_tiny_mae(folder: Path, seed: int, norm_pix_loss: bool = False, blank_positions: bool = False) -> Path:
    """A randomly initialised tiny ViT-MAE with its image processor, written by save_pretrained."""
    torch.manual_seed(seed)
    model = ViTMAEForPreTraining(tiny_config(norm_pix_loss))
    if not blank_positions:  # transformers 5.x leaves them at zero; see leakage.lab.mae.new_mae
        fill_sincos_positions(model.vit.embeddings.position_embeddings)
        fill_sincos_positions(model.decoder.decoder_pos_embed)
    model.save_pretrained(folder)
    ViTImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "target": save_tiny_mae(root / "target", seed=1, norm_pix_loss=True),
        "reference": save_tiny_mae(root / "reference", seed=2),
    }


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six lab people, three images each, the first three marked members."""
    root = tmp_path_factory.mktemp("data")
    world = make_world(5, 6)
    people = list(world.identities)
    write_dataset(world, root, people, 3, size=SIZE, members={person.name: rank < 3 for rank, person in enumerate(people)})
    return root


def scores(result) -> dict[str, float]:
    return {row["name"]: row["score"] for row in result.identities}


# --------------------------------------------------------------------------- engine


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_per_image_error_is_the_models_own_loss(tmp_path: Path, norm_pix_loss: bool) -> None:
    mae = load_mae(save_tiny_mae(tmp_path / "m", seed=3, norm_pix_loss=norm_pix_loss))
    pixels = torch.randn(4, 3, SIZE, SIZE)
    noise = mask_noise(0, torch.arange(4), 1, mae.n_patches)
    output = mae.model(pixel_values=pixels, noise=noise)
    per_image = per_sample_loss(mae.model, pixels, output.logits, output.mask)
    # Every image hides the same number of patches, so the model's batch loss is the mean of ours.
    assert per_image.shape == (4,)
    assert per_image.mean().item() == pytest.approx(output.loss.item(), rel=1e-5)
    single = mae.model(pixel_values=pixels[2:3], noise=noise[2:3]).loss.item()
    assert per_image[2].item() == pytest.approx(single, rel=1e-4)


def test_masks_follow_seed_image_and_ratio_not_the_batch(models: dict[str, Path]) -> None:
    mae = load_mae(models["target"])
    noise = mask_noise(7, torch.tensor([11, 12]), 3, mae.n_patches)
    assert noise.shape == (6, mae.n_patches)
    assert torch.equal(noise[3:], mask_noise(7, torch.tensor([12]), 3, mae.n_patches))  # same image, other batch
    assert not torch.equal(noise[:3], mask_noise(8, torch.tensor([11]), 3, mae.n_patches))  # other seed
    assert len({tuple(row.argsort().tolist()) for row in noise}) == 6  # every mask differs

    pixels = torch.randn(2, 3, SIZE, SIZE)
    for ratio in (0.25, 0.5, 0.9):
        with masking_ratio(mae.model, ratio):
            mask = mae.model(pixel_values=pixels, noise=noise[:2]).mask
        assert mask.sum(dim=1).tolist() == [mae.n_patches - kept_patches(mae.n_patches, ratio)] * 2
    assert mae.model.config.mask_ratio == 0.75  # restored

    keys = torch.tensor([image_key("a/1.png"), image_key("b/2.png")])
    together = masked_errors(mae, pixels, keys, MIMConfig(n_masks=4))
    alone = masked_errors(mae, pixels[1:], keys[1:], MIMConfig(n_masks=4))
    assert together.shape == (2, 4)
    torch.testing.assert_close(together[1:], alone)



def test_cancel_stops_between_batches(models: dict[str, Path], dataset_dir: Path) -> None:
    from cancelling import CancelDuring

    from leakage.results import RunCancelled

    press = CancelDuring("reconstruct with the target model")
    with pytest.raises(RunCancelled):
        run_mim(load_mae(models["target"]), scan_dataset(dataset_dir), MIMConfig(n_masks=2),
                RunContext(batch_size=4, num_workers=0, progress=press, cancel=press.flag))
    assert press.stopped_early()  # 4 of 18 images reconstructed, then it stopped

def test_saved_and_reloaded_mae_runs_the_attack_deterministically(models: dict[str, Path], dataset_dir: Path) -> None:
    target = load_mae(models["target"])
    assert target.describe()["norm_pix_loss"] is True
    data = scan_dataset(dataset_dir)
    result = run_mim(target, data, MIMConfig(n_masks=3, seed=4), RunContext(batch_size=4, num_workers=0))

    assert result.attack == ""  # an engine leaves the name to the attack's declaration (the run service stamps it)
    assert len(result.identities) == 18 and result.metrics["n_images"] == 18
    row = result.identities[0]
    assert {"name", "person", "score", "reconstruction_error", "member"} <= set(row)
    assert row["score"] == -row["reconstruction_error"]
    assert row["name"] == f"{row['person']}/{Path(row['path']).name}"
    assert result.metrics["n_members"] == 9 and result.metrics["n_nonmembers"] == 9
    assert 0.0 <= result.metrics["auc"] <= 1.0 and "0.01" in result.metrics["tpr_at_fpr"]
    assert result.config["mask_ratio"] == 0.75 and result.config["n_masks"] == 3 and result.config_hash
    json.loads(result.to_json())

    again = run_mim(load_mae(models["target"]), data, MIMConfig(n_masks=3, seed=4), RunContext(batch_size=7, num_workers=2))
    assert scores(again) == scores(result)
    assert again.config_hash == result.config_hash
    other_seed = run_mim(target, data, MIMConfig(n_masks=3, seed=5), RunContext(num_workers=0))
    assert scores(other_seed) != scores(result)

    shown = reconstruct(target, row["path"], row["name"], MIMConfig(n_masks=3, seed=4))
    assert shown.original.shape == shown.masked.shape == shown.reconstruction.shape == (SIZE, SIZE, 3)
    assert 0.0 <= shown.reconstruction.min() and shown.reconstruction.max() <= 1.0


def test_reference_mode_scores_by_the_difference(models: dict[str, Path], dataset_dir: Path) -> None:
    target, reference = load_mae(models["target"]), load_mae(models["reference"])
    data = scan_dataset(dataset_dir)
    config = MIMConfig(n_masks=2)
    runtime = RunContext(num_workers=0)
    result = run_mim(target, data, config, reference=reference, context=runtime)
    for row in result.identities:
        assert row["score"] == pytest.approx(row["reference_error"] - row["reconstruction_error"])
    plain = run_mim(target, data, config, context=runtime)
    assert [row["reconstruction_error"] for row in result.identities] == [row["reconstruction_error"] for row in plain.identities]
    assert result.config["reference_model"] == reference.name and result.config_hash != plain.config_hash

    against_itself = run_mim(target, data, config, reference=target, context=runtime)
    assert {row["score"] for row in against_itself.identities} == {0.0}  # same masks for both models


def test_shadow_mode_applies_the_threshold_that_separates_the_shadows_own_data(models: dict[str, Path], dataset_dir: Path) -> None:
    target, shadow = load_mae(models["target"]), load_mae(models["reference"])
    data = scan_dataset(dataset_dir)  # stands in for both the target's set and the shadow's own
    config, runtime = MIMConfig(n_masks=2), RunContext(num_workers=0)
    result = run_mim(target, data, config, shadow=shadow, shadow_data=data, context=runtime)

    # the threshold is the best one on the shadow model's own members / non-members ...
    on_shadow = run_mim(shadow, data, config, context=runtime)
    labels = [int(row["member"]) for row in on_shadow.identities]
    expected = best_threshold(labels, [row["score"] for row in on_shadow.identities])
    found = result.details["shadow"]
    assert found["error_threshold"] == pytest.approx(-expected["threshold"])
    assert (found["tpr"], found["fpr"], found["balanced_accuracy"]) == pytest.approx(
        (expected["tpr"], expected["fpr"], expected["balanced_accuracy"]))
    assert (found["n_members"], found["n_nonmembers"]) == (9, 9)
    # ... applied unchanged to the target's errors
    for row in result.identities:
        assert row["predicted_member"] == (row["reconstruction_error"] <= found["error_threshold"])
    target_labels = [int(row["member"]) for row in result.identities]
    at = metrics_at_threshold(target_labels, [row["score"] for row in result.identities], found["score_threshold"])
    metrics = result.metrics
    assert (metrics["threshold_accuracy"], metrics["threshold_tpr"], metrics["threshold_fpr"]) == (at["accuracy"], at["tpr"], at["fpr"])
    assert "auc" in metrics and metrics["n_predicted_members"] == at["tp"] + at["fp"]
    assert result.details["method"] == "shadow" and "Li et al." in result.details["method_description"]
    assert result.config["shadow_model"] == shadow.name and result.config["shadow_fingerprint"] == shadow.fingerprint

    plain = run_mim(target, data, config, context=runtime)
    assert "shadow_model" not in plain.config and plain.details["method"] == "plain"  # plain runs keep their config hash
    assert [row["score"] for row in plain.identities] == [row["score"] for row in result.identities]

    with pytest.raises(ValueError, match="not both"):
        run_mim(target, data, config, shadow=shadow, shadow_data=data, reference=shadow, context=runtime)
    with pytest.raises(ValueError, match="needs its own data"):
        run_mim(target, data, config, shadow=shadow, context=runtime)


def test_shadow_data_without_both_classes_is_refused(models: dict[str, Path], dataset_dir: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "unlabelled"
    shutil.copytree(dataset_dir, folder)
    (folder / "members.csv").unlink()
    mae = load_mae(models["target"])
    with pytest.raises(ValueError, match="members.csv with both members"):
        run_mim(mae, scan_dataset(dataset_dir), MIMConfig(n_masks=1), shadow=mae, shadow_data=scan_dataset(folder),
                context=RunContext(num_workers=0))


def test_a_broken_image_is_reported_and_the_others_scored(models: dict[str, Path], dataset_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(dataset_dir, copy)
    person = sorted(p for p in copy.iterdir() if p.is_dir())[0]
    broken = person / "9999.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    result = run_mim(load_mae(models["target"]), scan_dataset(copy), MIMConfig(n_masks=2), RunContext(batch_size=4, num_workers=0))
    assert len(result.identities) == 18
    assert [problem["path"] for problem in result.problems] == [str(broken)]
    assert "auc" in result.metrics


def test_a_hub_id_fails_fast_offline_with_the_local_weights_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAKAGE_ALLOW_DOWNLOADS", raising=False)
    started = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="save_pretrained"):
        load_mae("leakage-tests/no-such-vit-mae")
    assert time.perf_counter() - started < 10
    with pytest.raises(FileNotFoundError):
        load_mae("/no/such/folder/vit-mae")


def test_checkpoints_that_cannot_reconstruct_are_refused(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTMAEModel, ViTModel

    encoder_only = tmp_path / "encoder-only"
    ViTMAEModel(tiny_config()).save_pretrained(encoder_only)
    with pytest.raises(ValueError, match="no reconstruction decoder"):
        load_mae(encoder_only)
    plain_vit = tmp_path / "vit"
    ViTModel(ViTConfig(image_size=SIZE, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64)).save_pretrained(plain_vit)
    with pytest.raises(ValueError, match="'vit' model"):
        load_mae(plain_vit)
    with pytest.raises(NotADirectoryError):
        load_mae(plain_vit / "config.json")


def test_blank_position_embeddings_are_fixed_for_lab_models_and_flagged_elsewhere(tmp_path: Path) -> None:
    blank = load_mae(save_tiny_mae(tmp_path / "blank", seed=6, blank_positions=True))
    assert "position embeddings are all zero" in blank.describe()["warnings"][0]
    lab_model = new_mae(MAEArchitecture(image_size=SIZE, patch_size=8, hidden_size=32, num_attention_heads=2,
                                        decoder_hidden_size=32, decoder_num_attention_heads=2), seed=0)
    lab_model.save_pretrained(tmp_path / "lab")
    reloaded = ViTMAEForPreTraining.from_pretrained(tmp_path / "lab")
    torch.testing.assert_close(reloaded.decoder.decoder_pos_embed, lab_model.decoder.decoder_pos_embed)
    assert reloaded.decoder.decoder_pos_embed.abs().sum() > 0 and reloaded.vit.embeddings.position_embeddings.abs().sum() > 0


# --------------------------------------------------------------------------- CLI


def test_cli_writes_json_with_the_stable_keys_and_stores_the_run(
    models: dict[str, Path], dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    out, rows = tmp_path / "out.json", tmp_path / "rows.csv"
    code = cli_main(["mim", "--model", str(models["target"]), "--data", str(dataset_dir), "--reference", str(models["reference"]),
                     "--mask-ratio", "0.5", "--masks", "2", "--seed", "3", "--workers", "0", "--json", str(out), "--csv", str(rows), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AUC" in printed and "stored as run" in printed
    # 9 non-member images: no TPR at 1% or 0.1% FPR can be read off them, and the text says so
    assert "TPR at FPR = 0 (N = 9: levels below 11% not resolvable): " in printed
    assert "% FPR" not in printed.replace("TPR at 0% FPR", "")
    assert "per-example calibration" in printed and "not the paper's method" in printed
    result = json.loads(out.read_text())
    assert {"config", "config_hash", "metrics", "identities"} <= set(result)
    assert result["attack"] == "mim" and result["config"]["mask_ratio"] == 0.5 and result["config"]["n_masks"] == 2
    assert len(result["identities"]) == 18 and rows.read_text().startswith("name,person,path,score,reconstruction_error")

    from leakage.store import RunStore

    with RunStore() as store:
        stored = store.get(store.list()[0].id)
    assert stored.attack == "mim" and len(stored.identities) == 18

    assert cli_main(["mim", "--model", "leakage-tests/no-such-vit-mae", "--data", str(dataset_dir), "--no-store", "--quiet"]) == 2
    assert "Cannot load leakage-tests/no-such-vit-mae" in capsys.readouterr().err


# --------------------------------------------------------------------------- lab MAE


def tiny_lab_config(epochs: int) -> LabMAEConfig:
    return LabMAEConfig(
        seed=3, n_members=12, n_nonmembers=12, n_reference=12, images_per_person=1,
        architecture=MAEArchitecture(image_size=SIZE, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     decoder_hidden_size=64, decoder_num_hidden_layers=1, decoder_num_attention_heads=4),
        training=MAETrainConfig(epochs=epochs, batch_size=4, learning_rate=2e-3),
    )


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory: pytest.TempPathFactory):
    """A tiny lab MAE, really pre-trained (seconds): 12 member images, 12 non-members, a reference model."""
    home = tmp_path_factory.mktemp("lab-home")
    stages: list[str] = []
    record = lambda stage, done, total: stages.append(stage.split(" (")[0])  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAKAGE_HOME", str(home))
        lab = ensure_lab_mae(tiny_lab_config(epochs=150), progress=record)
        built_without_reference = not lab.has_reference and not lab.has_shadow
        reference_dir = ensure_reference(lab, progress=record)
        shadow_root = ensure_shadow(lab, progress=record)
    return {"lab": lab, "home": home, "stages": stages, "reference_dir": reference_dir, "shadow_root": shadow_root,
            "built_without_reference": built_without_reference}


@pytest.mark.slow
def test_an_overfitted_lab_mae_reconstructs_its_members_better(tiny_lab: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = tiny_lab["lab"]
    assert list(dict.fromkeys(tiny_lab["stages"])) == [
        "render attack images", "pre-train lab MAE", "render reference images", "pre-train reference MAE",
        "render shadow images", "pre-train shadow MAE"]
    assert lab.root.parent == tiny_lab["home"] / "lab-mae" and (lab.root / "lab_mae.json").is_file()
    assert tiny_lab["built_without_reference"]  # the reference model is trained on first use only
    assert tiny_lab["reference_dir"] == lab.reference_dir and lab.has_reference

    data = scan_dataset(lab.attack_dir)
    assert sorted(name for name, member in data.members.items() if member) == sorted(lab.members)
    assert not set(lab.reference_people) & set(data.people)
    target, reference = load_mae(lab.model_dir), load_mae(lab.reference_dir)
    assert "warnings" not in target.describe()
    config_mim, runtime = MIMConfig(n_masks=4), RunContext(num_workers=0)
    result = run_mim(target, data, config_mim, context=runtime)
    assert result.metrics["mean_error_members"] < result.metrics["mean_error_nonmembers"]
    assert result.metrics["auc"] >= 0.75  # 0.85 here; the margin absorbs other CPUs' float rounding
    calibrated = run_mim(target, data, config_mim, reference=reference, context=runtime)
    assert calibrated.metrics["auc"] >= 0.85  # 0.94: the reference model cancels how hard each image is

    # Reused, not rebuilt; a different epoch count is a different lab.
    monkeypatch.setenv("LEAKAGE_HOME", str(tiny_lab["home"]))
    assert ensure_lab_mae(lab.config).build_seconds == lab.build_seconds
    assert lab_mae_root(lab.config.with_epochs(151)) != lab.root


@pytest.mark.slow
def test_the_lab_shadow_mae_is_trained_on_disjoint_people_and_its_threshold_carries_over(
    tiny_lab: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    lab = tiny_lab["lab"]
    assert tiny_lab["shadow_root"] == lab.shadow_root and lab.has_shadow
    shadow_members, shadow_nonmembers = shadow_roles(lab.config)
    target_people = {person.name for group in assign_roles(lab.config) for person in group}
    shadow_people = {person.name for person in shadow_members + shadow_nonmembers}
    assert len(shadow_people) == 2 * lab.config.n_members and not shadow_people & target_people
    shadow_data = scan_dataset(lab.shadow_data_dir)
    assert sorted(name for name, member in shadow_data.members.items() if member) == sorted(p.name for p in shadow_members)
    assert json.loads((lab.shadow_model_dir / "training.json").read_text())["people"] == [p.name for p in shadow_members]

    # the command of the issue, with the tiny lab's folders in place of the default lab's names
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    out = tmp_path / "r.json"
    assert cli_main(["mim", "--model", str(lab.model_dir), "--shadow", str(lab.shadow_model_dir), "--shadow-data",
                     str(lab.shadow_data_dir), "--data", str(lab.attack_dir), "--masks", "4", "--workers", "0",
                     "--json", str(out), "--no-store", "--quiet"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads(out.read_text())["metrics"]
    assert {"auc", "threshold_accuracy", "threshold_tpr", "threshold_fpr"} <= set(metrics)
    assert metrics["threshold_accuracy"] > 0.6 and metrics["threshold_tpr"] > metrics["threshold_fpr"]
    assert "shadow-model threshold: member when error <= " in printed and "on the target at that threshold: accuracy" in printed
    assert cli_main(["mim", "--model", str(lab.model_dir), "--shadow", str(lab.shadow_model_dir), "--data", str(lab.attack_dir),
                     "--no-store", "--quiet"]) == 2
    assert "--shadow needs --shadow-data" in capsys.readouterr().err


def test_lab_mae_command_reports_where_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path))
    assert cli_main(["lab", "info", "lab-mae", "--param", "training.epochs=7"]) == 0
    printed = capsys.readouterr().out
    assert str(lab_mae_root(LabMAEConfig().with_epochs(7))) in printed
    assert str(tmp_path / "lab-mae") in printed and "built:    no" in printed


# --------------------------------------------------------------------------- page

PAGE = 'from ui.attack_page import render\nrender("mim")'  # the page generated from the declaration and its parts


def test_page_runs_the_attack_on_a_local_model_and_folder(tiny_lab: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    app = AppTest.from_string(PAGE, default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "Membership inference on masked image models"
    assert app.slider(key="mim-mask-ratio").value == 0.75 and app.slider(key="mim-masks").value == 8
    app.sidebar.radio(key="mim-target-source").set_value("Local folder").run()
    app.sidebar.text_input(key="mim-target-spec").set_value(str(tiny_lab["lab"].model_dir)).run()
    app.sidebar.radio(key="mim-data-source").set_value("Folder").run()
    assert app.button(key="mim-run").disabled  # no folder yet
    app.sidebar.text_input(key="mim-data-folder").set_value(str(tiny_lab["lab"].attack_dir)).run()
    app.sidebar.slider(key="mim-masks").set_value(2).run()
    app.button(key="mim-run").click().run()
    deadline = time.monotonic() + 60
    while not app.metric and time.monotonic() < deadline:  # the attack runs in a background job
        time.sleep(0.2)
        app.run()
    assert not app.exception, app.exception
    problems = [element.value for element in app.error if not element.value.startswith("Leakage detected")]
    assert not problems, problems  # the verdict may be an error box; nothing else may
    assert [*app.error, *app.success, *app.warning], "the verdict comes first"
    # 12 non-members cannot resolve FPR levels below 1/12: they are shown as what they are (issue 13)
    assert [metric.label for metric in app.metric] == ["AUC", "TPR at FPR = 0 (N = 12: levels below 8.3% not resolvable)"]
    assert len(app.get("plotly_chart")) == 3  # ROC linear, ROC log-log, error histograms
    pictures = app.get("image")  # original, masked input, reconstruction: a member and a non-member
    assert [picture.captions for picture in pictures] == [["original", "masked input", "reconstruction"]] * 2
    assert any("stored as run 1" in caption.value for caption in app.caption)


def test_a_stored_run_opens_on_the_runs_page_with_its_reconstructions(
    models: dict[str, Path], dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Runs page shows a stored MIM run with the attack page's own sections: the run's settings and
    the reconstructions by the run's own model (not whatever the MIM page's sidebar names)."""
    from streamlit.testing.v1 import AppTest

    from leakage.store import RunStore

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    assert cli_main(["mim", "--model", str(models["target"]), "--data", str(dataset_dir), "--masks", "3", "--seed", "2",
                     "--workers", "0", "--quiet"]) == 0
    with RunStore() as store:
        run_id = store.list()[0].id
    app = AppTest.from_file(str(REPO / "app_pages" / "runs.py"), default_timeout=60)
    app.query_params["run"] = str(run_id)
    app.run()
    assert not app.exception, app.exception
    assert "What the model sees" in [header.value for header in app.subheader]
    assert any("mask ratio 0.75 \u00b7 3 masks \u00b7 18 images" in caption.value for caption in app.caption)
    assert app.slider(key="mim-example-mask").max == 3  # the run's own masks
    pictures = app.get("image")
    assert [picture.captions for picture in pictures] == [["original", "masked input", "reconstruction"]] * 2
    app.radio(key="mim-example").set_value("most member-like").run()
    assert not app.exception, app.exception
