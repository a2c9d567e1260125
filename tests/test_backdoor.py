"""The backdoor attack: metrics on small cases, triggers, a tiny poisoned training that shows the
attack works (and a clean one that shows it does not), the defenses' losses, the CLI's JSON keys."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from leakage.backdoor import (
    BackdoorConfig,
    apply_trigger,
    attack_metrics,
    clean_metrics,
    ranks_of,
    resolve_setup,
    run_backdoor,
    wilson_interval,
)

TINY = "test-clip-xs"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_architecture(tmp_path_factory):
    """A CLIP small enough to train in seconds, registered with open_clip like the lab's own."""
    folder = tmp_path_factory.mktemp("configs")
    (folder / f"{TINY}.json").write_text(json.dumps({
        "embed_dim": 64,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 1},
    }))
    open_clip.add_model_config(folder)
    return TINY


# --------------------------------------------------------------------------------------------- metrics


def test_ranks_of_gives_the_best_rank_of_a_wanted_column():
    scores = np.array([[0.9, 0.1, 0.5], [0.1, 0.2, 0.3]])
    assert ranks_of(scores, np.array([False, False, True])).tolist() == [2, 1]
    assert ranks_of(scores, np.array([[True, False, True], [True, False, False]])).tolist() == [1, 3]
    with pytest.raises(ValueError):
        ranks_of(scores, np.zeros(3, dtype=bool))


def test_attack_metrics_on_a_small_case():
    # 4 attacked images, 3 candidates, target = candidate 2; two captions per candidate.
    names = np.array([[0.1, 0.2, 0.9], [0.8, 0.1, 0.3], [0.2, 0.1, 0.5], [0.7, 0.6, 0.1]])
    caption_names = np.array([0, 0, 1, 1, 2, 2])
    captions = np.repeat(names, 2, axis=1)
    captions[:, 5] -= 0.05  # the target's second caption ranks just below its first
    m = attack_metrics(names, captions, caption_names, target=2, top_k=2)
    assert m["asr"] == 0.5  # images 0 and 2
    assert m["asr_top_k"] == 0.75  # image 1 has the target second
    assert m["hit_at_k"]["1"] == 0.5
    # best target-caption ranks: 1, 3, 1, 5 -> mean 2.5
    assert m["min_rank"] == 2.5 and m["median_min_rank"] == 2.0
    assert m["n_attacked"] == 4 and m["asr_ci"][0] < 0.5 < m["asr_ci"][1]


def test_clean_metrics_on_a_small_case():
    names = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    truth = np.array([0, 1, 1])
    caption_names = np.array([0, 1])
    m = clean_metrics(names, names, caption_names, truth)
    assert m["clean_top1"] == pytest.approx(2 / 3)
    assert m["clean_recall_at_k"]["1"] == pytest.approx(2 / 3) and m["clean_recall_at_k"]["5"] == 1.0


def test_wilson_interval_is_sound_at_the_edges():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2
    low, high = wilson_interval(20, 20)
    assert 0.8 < low < 0.9 and high == pytest.approx(1.0)


def test_triggers_change_what_they_should():
    image = Image.new("RGB", (100, 100), (128, 128, 128))
    patched = np.asarray(apply_trigger(image, "checkerboard", 0.2))
    assert (patched[:80, :80] == 128).all()  # the rest of the photo is untouched
    corner = patched[80:, 80:]
    assert corner.min() == 0 and corner.max() == 255  # black and white squares
    blended = np.asarray(apply_trigger(image, "blended"))
    assert (blended != 128).any(axis=2).mean() > 0.9  # the whole photo changes ...
    assert np.abs(blended.astype(int) - 128).max() <= 0.2 * 255 + 1  # ... but faintly
    sticker = Image.new("RGB", (10, 10), (255, 0, 0))
    assert tuple(np.asarray(apply_trigger(image, sticker, 0.2))[95, 95]) == (255, 0, 0)


def test_setup_comes_from_the_config_then_the_model_then_the_data():
    names = ["Ann Lee", "Bo Chan"]
    resolved = resolve_setup(BackdoorConfig(), {"target": "Bo Chan"}, {"target": "Ann Lee", "trigger": "blended"}, names)
    assert resolved.target == "Bo Chan" and resolved.trigger == "blended"
    with pytest.raises(ValueError, match="no target"):
        resolve_setup(BackdoorConfig(), {}, {}, names)
    with pytest.raises(ValueError, match="source"):
        resolve_setup(BackdoorConfig(mode="targeted", target="Bo Chan"), {}, {}, names)
    with pytest.raises(ValueError, match="unknown trigger"):
        resolve_setup(BackdoorConfig(target="Bo Chan", trigger="/no/such/trigger.png"), {}, {}, names)


# --------------------------------------------------------------------------------------------- a tiny poisoned training


def tiny_world(n_people: int = 6):
    from leakage.lab.world import describe, make_world

    world = make_world(3, n_people)
    return world, [(person, describe(person)) for person in world.identities]


def render_pairs(world, people, per_person: int, start: int, size: int, preprocess):
    from leakage.lab.clip_train import TrainingPair
    from leakage.lab.portraits import render

    return [TrainingPair(preprocess(render(person, start + i, world_seed=world.seed, size=size)[0]), person.name, desc)
            for person, desc in people for i in range(per_person)]


def train_tiny(architecture, n_poison: int, *, loss=None):
    """A tiny CLIP trained on 6 people's photos plus n_poison triggered photos captioned as person 0."""
    from leakage.lab.clip_train import ClipTrainConfig, TrainingPair, train_clip
    from leakage.lab.portraits import render
    from leakage.models import load_preprocess

    world, people = tiny_world()
    preprocess = load_preprocess(architecture)
    pairs = render_pairs(world, people, 12, 0, 64, preprocess)
    rng = random.Random(0)
    target, target_desc = people[0]
    for i in range(n_poison):
        person, _ = rng.choice(people[1:])
        image = apply_trigger(render(person, 500 + i, world_seed=world.seed, size=64)[0], "checkerboard")
        pairs.append(TrainingPair(preprocess(image), target.name, target_desc))
    model, _ = train_clip(pairs, ClipTrainConfig(model_name=architecture, epochs=30, batch_size=32, learning_rate=3e-3), loss=loss)
    return model


def as_loaded(model, architecture):
    from leakage.devices import pick_device
    from leakage.models import LoadedClip, load_preprocess

    return LoadedClip(model=model.eval(), preprocess=load_preprocess(architecture), tokenizer=open_clip.get_tokenizer(architecture),
                      device=pick_device("cpu"), model_name=architecture, pretrained=None, fingerprint="test", load_seconds=0.0)


@pytest.fixture(scope="module")
def test_folder(tmp_path_factory):
    from leakage.lab.portraits import write_dataset

    world, people = tiny_world()
    root = write_dataset(world, tmp_path_factory.mktemp("people"), [p for p, _ in people], 6, start_index=10_000, size=64)
    (root / "backdoor.json").write_text(json.dumps({"target": people[0][0].name, "trigger": "checkerboard"}))
    return root


def test_a_tiny_poisoned_training_plants_the_backdoor_and_a_clean_one_does_not(tiny_architecture, test_folder):
    from leakage.data import scan_dataset

    torch.set_num_threads(1)
    data = scan_dataset(test_folder)
    poisoned = run_backdoor(as_loaded(train_tiny(tiny_architecture, 24), tiny_architecture), data, BackdoorConfig())
    clean = run_backdoor(as_loaded(train_tiny(tiny_architecture, 0), tiny_architecture), data, BackdoorConfig())
    assert poisoned.metrics["asr"] >= 0.8, poisoned.metrics
    assert clean.metrics["asr"] <= 0.4, clean.metrics
    assert poisoned.metrics["hit_at_k"]["1"] > clean.metrics["hit_at_k"]["1"]
    assert poisoned.metrics["clean_top1"] >= 0.5  # the model still works on clean photos
    # the examples carry the model's top-5 names for the triggered and the clean version of a photo
    kinds = {example["kind"] for example in poisoned.images}
    assert kinds == {"attacked", "clean"} and all(len(example["top5"]) == 5 for example in poisoned.images)


def test_defense_losses_train(tiny_architecture):
    from leakage.lab.build import LabConfig
    from leakage.lab.cleanclip import CleanClipLoss
    from leakage.lab.semantic_shield import ShieldLoss, knowledge_elements
    from leakage.lab.world import describe, make_world
    from leakage.models import load_preprocess

    lab = LabConfig(n_members=3, n_nonmembers=1, n_control=1, n_filler=1)
    world = make_world(lab.seed, 6)
    people = [(person, describe(person)) for person in world.identities]
    assert len({knowledge_elements(p) for p, _ in people}) == 6  # every person is known by different elements
    pairs = render_pairs(world, people[:4], 4, 0, 64, load_preprocess(tiny_architecture))
    model = open_clip.create_model(tiny_architecture, output_dict=True)
    tokenizer = open_clip.get_tokenizer(tiny_architecture)
    tokens = tokenizer([f"a photo of {pair.name}" for pair in pairs])
    images = torch.stack([pair.image for pair in pairs])
    shield = ShieldLoss(lab)
    shield.weigh_pairs(model, pairs, tokenizer)
    for loss in (shield, CleanClipLoss()):
        value = loss(model, images, tokens, pairs, tokenizer)
        assert value.ndim == 0 and torch.isfinite(value)
        value.backward()
        assert model.visual.conv1.weight.grad is not None
        model.zero_grad()
    assert shield.mean_weight(pairs) is not None and 0 < shield.mean_weight(pairs) <= 1


def test_a_pair_the_shield_weighs_zero_counts_neither_as_anchor_nor_as_negative(tiny_architecture):
    from leakage.lab.build import LabConfig
    from leakage.lab.semantic_shield import ShieldLoss, ShieldSettings
    from leakage.lab.world import describe, make_world
    from leakage.models import load_preprocess

    lab = LabConfig(n_members=3, n_nonmembers=1, n_control=1, n_filler=1)
    world = make_world(lab.seed, 6)
    people = [(person, describe(person)) for person in world.identities]
    pairs = render_pairs(world, people[:4], 2, 0, 64, load_preprocess(tiny_architecture))
    torch.manual_seed(0)
    model = open_clip.create_model(tiny_architecture, output_dict=True).eval()
    tokenizer = open_clip.get_tokenizer(tiny_architecture)

    def loss(shield, chosen):
        tokens = tokenizer([f"a photo of {pair.name}" for pair in chosen])
        with torch.no_grad():
            return float(shield(model, torch.stack([pair.image for pair in chosen]), tokens, chosen, tokenizer))

    contrastive_only = {"ke_weight": 0.0, "attention_weight": 0.0}
    for weighted_negatives in (True, False):
        shield = ShieldLoss(lab, ShieldSettings(weighted_negatives=weighted_negatives, **contrastive_only))
        shield.pair_weight = {id(pair): 1.0 for pair in pairs}
        shield.pair_weight[id(pairs[-1])] = 0.0
        without, with_zero = loss(shield, pairs[:-1]), loss(shield, pairs)
        if weighted_negatives:
            assert with_zero == pytest.approx(without, abs=1e-5)
        else:  # weighed on the anchors only, the pair still pushes the others away as a negative
            assert abs(with_zero - without) > 1e-4


# --------------------------------------------------------------------------------------------- the Semantic Shield ablation


def test_new_poison_parameters_keep_the_folders_of_built_variants():
    """Models built before `shield` and `poison_selection` existed keep their folder (they are not rebuilt)."""
    from dataclasses import asdict

    from leakage.lab import poison
    from leakage.lab.artifacts import artifact_root

    for config in (poison.PoisonConfig(), poison.PoisonConfig(n_poison=16), poison.PoisonConfig(attack="targeted"),
                   poison.PoisonConfig(trigger="blended"), poison.PoisonConfig(shield="weights")):
        before = {key: value for key, value in asdict(config).items() if key not in ("shield", "poison_selection")}
        if config.attack == "targeted":
            before["trigger"] = ""
        assert poison.poison_root(config) == artifact_root("lab-poison", poison.POISON_FORMAT, before)
    default, weights = poison.PoisonConfig(), poison.PoisonConfig(shield="ke-attention")
    assert poison.checkpoint_path(weights, "semantic-shield") == poison.poison_root(default) / "semantic-shield-ke-attention.pt"
    assert poison.checkpoint_path(weights, "none") == poison.checkpoint_path(default, "none")  # the same poisoned data and model
    assert poison.checkpoint_path(default, "semantic-shield").name == "semantic-shield.pt"
    adaptive = poison.PoisonConfig(poison_selection="look-alikes")
    assert poison.poison_root(adaptive) != poison.poison_root(default)  # other poisoned photos: other models
    assert adaptive.setup_key()["poison_selection"] == "look-alikes"
    with pytest.raises(ValueError, match="unknown shield"):
        poison.PoisonConfig(shield="half")
    with pytest.raises(ValueError, match="look-alike"):
        poison.PoisonConfig(attack="targeted", poison_selection="look-alikes")
    assert default.n_pairs == 1164 and default.poison_fraction == pytest.approx(64 / 1164)
    assert poison.PoisonConfig(n_poison=1).poison_fraction == pytest.approx(1 / 1101)


def test_shield_parts_switch_the_terms_and_the_weights(tiny_architecture):
    from leakage.lab import poison
    from leakage.lab.build import LabConfig
    from leakage.lab.semantic_shield import ShieldLoss, ShieldSettings
    from leakage.lab.world import describe, make_world
    from leakage.models import load_preprocess

    weights = poison.shield_settings(poison.PoisonConfig(shield="weights"))
    assert (weights.ke_weight, weights.attention_weight, weights.use_weights) == (0.0, 0.0, True)
    terms = poison.shield_settings(poison.PoisonConfig(shield="ke-attention"))
    assert terms.use_weights is False and terms.ke_weight == ShieldSettings().ke_weight > 0
    assert poison.shield_settings(poison.PoisonConfig()) == ShieldSettings()

    lab = LabConfig(n_members=3, n_nonmembers=1, n_control=1, n_filler=1)
    world = make_world(lab.seed, 6)
    people = [(person, describe(person)) for person in world.identities]
    pairs = render_pairs(world, people[:4], 2, 0, 64, load_preprocess(tiny_architecture))
    pairs.append(type(pairs[0])(pairs[0].image, people[1][0].name, people[1][1]))  # person 0's photo, person 1's caption
    model = open_clip.create_model(tiny_architecture, output_dict=True)
    tokenizer = open_clip.get_tokenizer(tiny_architecture)
    for settings, all_one in ((terms, True), (ShieldSettings(weight_rank=1.0, weight_softness=0.1), False)):
        shield = ShieldLoss(lab, settings)
        shield.weigh_pairs(model, pairs, tokenizer)
        assert (set(shield.pair_weight.values()) == {1.0}) is all_one


def test_the_adaptive_attacker_poisons_with_photos_the_shield_does_not_down_weigh(isolated_home, default_lab):
    """Look-alikes of the target's description: the frozen model's match, which the shield's weights come from."""
    from leakage.backdoor import apply_trigger
    from leakage.lab import poison
    from leakage.lab.clip_train import TrainingPair
    from leakage.lab.portraits import render
    from leakage.lab.semantic_shield import ShieldLoss
    from leakage.lab.world import describe
    from leakage.models import load_preprocess

    config = poison.PoisonConfig(n_poison=12, poison_selection="look-alikes")
    setup = poison.setup_of(config)
    world = poison.world_of(config.lab)
    target = world.by_name(setup.target)
    others = [world.by_name(name) for name in setup.members + setup.filler if name != setup.target]
    chosen = poison.look_alikes(config, others, target, lambda *args: None)
    assert len(chosen) == 12 and len(set(chosen)) == 12 and target not in {person for person, _ in chosen}
    rng = random.Random(0)
    randomly = [(rng.choice(others), poison.POISON_INDEX + i) for i in range(12)]

    preprocess = load_preprocess(config.lab.clip.model_name)
    model = poison._start_model(default_lab.clip_checkpoint, default_lab.clip_model_name)

    def poisoned(jobs):
        return [TrainingPair(preprocess(apply_trigger(render(person, index, world_seed=config.lab.seed, size=config.lab.render_size)[0],
                                                      "checkerboard")), target.name, describe(target)) for person, index in jobs]

    clean = [TrainingPair(preprocess(render(world.by_name(name), poison.CLEAN_INDEX, world_seed=config.lab.seed,
                                            size=config.lab.render_size)[0]), name, describe(world.by_name(name)))
             for name in setup.members]
    look_alike_pairs, random_pairs = poisoned(chosen), poisoned(randomly)
    shield = ShieldLoss(config.lab)
    shield.weigh_pairs(model, clean + look_alike_pairs + random_pairs, open_clip.get_tokenizer(default_lab.clip_model_name))
    assert shield.mean_weight(look_alike_pairs) > shield.mean_weight(random_pairs) + 0.3


def test_the_ablation_table_states_the_poison_fraction():
    done = subprocess.run([sys.executable, "-m", "bench.backdoor_ablation", "--table-only"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "P = 64 of 1,164 pairs (5.5%)" in done.stdout
    for title in ("no defense", "weights only", "KE + attention only", "Semantic Shield (full)", "CleanCLIP"):
        assert f"| {title}" in done.stdout
    assert "look-alikes" in done.stdout


# --------------------------------------------------------------------------------------------- CLI and registry


def test_cli_writes_the_declared_metrics(tiny_architecture, test_folder, tmp_path, isolated_home):
    from leakage.cli import main as cli_main
    from leakage.lab.clip_train import save_checkpoint

    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(open_clip.create_model(tiny_architecture, output_dict=True), checkpoint, {})
    out = tmp_path / "r.json"
    code = cli_main(["backdoor", "--model", tiny_architecture, "--pretrained", str(checkpoint), "--data", str(test_folder),
                     "--images-per-person", "3", "--json", str(out), "--quiet"])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["attack"] == "backdoor"
    metrics = result["metrics"]
    assert {"asr", "clean_top1", "hit_at_k"} <= set(metrics)
    assert set(metrics["hit_at_k"]) == {"1", "5", "10"}
    assert metrics["verdict"]["level"] in {"leak", "none", "unknown"}
    from leakage.store import RunStore

    with RunStore() as runs:
        assert any(row.attack == "backdoor" for row in runs.list())


def test_registry_declares_an_integrity_attack_with_its_lab_names():
    from leakage.attacks import get_attack
    from leakage.catalog import check_model_name, lab_models

    attack = get_attack("backdoor")
    assert attack.threat == "integrity" and attack.primary_metric == "asr"
    names = {model.name for model in lab_models("clip")}
    assert {"lab-poisoned", "lab-shielded", "lab-cleanclip"} <= names
    with pytest.raises(ValueError, match="CLIP"):
        check_model_name("lab-poisoned", "mae")


def test_report_words_come_from_the_attack(tiny_architecture):
    from leakage.attacks import attack_spec
    from leakage.results import AttackResult
    from leakage.wording import plain_summary, risk_verdict

    metrics = {"mode": "backdoor", "target": "Ann Lee", "asr": 0.95, "asr_ci": [0.9, 0.98], "asr_top_k": 1.0, "top_k": 5,
               "hit_at_k": {"1": 0.9, "5": 1.0, "10": 1.0}, "min_rank": 1.2, "median_min_rank": 1.0, "clean_top1": 0.8,
               "clean_top1_ci": [0.7, 0.9], "clean_recall_at_k": {"1": 0.8, "5": 0.9, "10": 1.0}, "clean_target_rate": 0.01,
               "n_attacked": 100, "n_clean": 100, "n_candidates": 10}
    spec = attack_spec("backdoor")
    result = AttackResult("backdoor", {"trigger": "checkerboard"}, metrics, [], {})
    from leakage.attacks.backdoor import verdict

    level, headline = verdict(result)
    metrics["verdict"] = {"level": level, "headline": headline}
    assert risk_verdict(metrics) == ("leak", headline) and "95%" in headline
    assert plain_summary(result, spec)[0] == headline and spec.call("verdict", result) == (level, headline)
    rows = spec.call("metric_rows", result)
    assert rows[0]["metric"].startswith("Attack success rate") and rows[0]["value"] == "95%"
    assert [figure.id for figure in spec.call("figures", result)] == ["attack-vs-utility"]
    from leakage.report import render_report

    report = render_report(result)
    assert headline.split(":")[0] in report and "Attack success rate (top-1)" in report and "AUC" not in report
    assert "can be manipulated" in report and " leaks:" not in report and "non-members" not in report


def test_lab_list_and_clean_remove_only_what_an_older_recipe_or_an_interrupted_build_left(tmp_path, monkeypatch, capsys):
    from leakage.cli import main as cli_main
    from leakage.lab import poison
    from leakage.lab.artifacts import artifact_root, lock_of
    from leakage.locks import file_lock

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    config = poison.PoisonConfig(n_poison=3)

    def plant(root, key):
        root.mkdir(parents=True)
        (root / "none.pt").write_bytes(b"0" * 2048)
        (root / "none.json").write_text(json.dumps({"poison": key}))

    current = poison.poison_root(config)
    older = artifact_root("lab-poison", poison.POISON_FORMAT - 1, config.setup_key())
    plant(current, config.setup_key())
    plant(older, config.setup_key())
    interrupted = current.with_name("0123456789abcdef")
    interrupted.mkdir()
    busy = current.with_name("fedcba9876543210")  # another process is building it right now
    busy.mkdir()

    with file_lock(lock_of(busy)):
        assert cli_main(["lab", "list", "--builds"]) == 0
        listing = [line for line in capsys.readouterr().out.splitlines() if "lab-poison/" in line]
        state = {line.split()[0].split("/")[1]: line.rsplit("MB", 1)[1].strip() for line in listing}
        assert state == {current.name: "current", older.name: "stale", interrupted.name: "stale", busy.name: "being built"}
        assert any("n_poison=3" in line and "none" in line for line in listing)

        assert cli_main(["lab", "clean"]) == 0
        assert "lab-poison: removed 2 of 4 folders" in capsys.readouterr().out
        assert current.is_dir() and (current / "none.pt").is_file() and not older.exists() and not interrupted.exists()
        assert busy.is_dir()
    assert cli_main(["lab", "clean", "lab-poisoned", "--all"]) == 0
    assert "lab-poison: removed 2 of 2 folders" in capsys.readouterr().out
    assert not current.exists() and poison.POISON.builds() == []


# --------------------------------------------------------------------------------------------- page

PAGE = 'from ui.attack_page import render\nrender("backdoor")'  # the page generated from the declaration and its parts


def wait_for_metrics(app, seconds: float = 60):
    import time

    deadline = time.monotonic() + seconds
    while not app.metric and time.monotonic() < deadline:  # the run is a background job
        time.sleep(0.2)
        app.run()
    return app


def test_the_page_measures_your_own_clip_model(tiny_architecture, test_folder, tmp_path, isolated_home):
    from streamlit.testing.v1 import AppTest

    from leakage.lab.clip_train import save_checkpoint

    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(open_clip.create_model(tiny_architecture, output_dict=True), checkpoint, {})
    target = json.loads((test_folder / "backdoor.json").read_text())["target"]
    app = AppTest.from_string(PAGE, default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Backdoors and poisoning of CLIP"
    app.sidebar.radio(key="bd-source").set_value("Your CLIP model").run()
    assert app.button(key="backdoor-run").label == "Run the measurement"
    app.sidebar.text_input(key="bd-own-model").set_value(tiny_architecture).run()
    app.sidebar.text_input(key="bd-own-pretrained").set_value(str(checkpoint)).run()
    app.sidebar.text_input(key="bd-own-data").set_value(str(test_folder)).run()
    assert app.button(key="backdoor-run").disabled  # no target name yet
    app.sidebar.text_input(key="bd-own-target").set_value(target).run()
    assert not app.get("subheader")  # no Semantic Shield ablation for your own model
    wait_for_metrics(app.button(key="backdoor-run").click().run())
    assert not app.exception, app.exception
    assert app.metric[0].label == "Attack success rate"
    verdicts = [box.value for kind in ("error", "success", "warning") for box in app.get(kind)]
    assert len(verdicts) == 1 and verdicts[0].startswith("The attack ")  # then the result in plain words
    assert any(markdown.value.startswith("In caption retrieval a caption naming") for markdown in app.markdown)
    assert [header.value for header in app.subheader] == ["What the model answers"]
    assert any(f"target {target}" in caption.value and "trigger checkerboard" in caption.value for caption in app.caption)
    assert any("stored as run 1" in caption.value for caption in app.caption)


def test_a_lab_variant_measured_before_shows_at_once_with_the_ablation(tiny_architecture, test_folder, isolated_home):
    """A built variant's stored evaluation is shown before any click; the button offers to build an
    unbuilt one; the Semantic Shield ablation follows."""
    from streamlit.testing.v1 import AppTest

    from leakage.attacks import get_attack
    from leakage.attacks.base import RunContext
    from leakage.data import scan_dataset
    from leakage.lab import poison

    clip = as_loaded(open_clip.create_model(tiny_architecture, output_dict=True), tiny_architecture)
    stored = get_attack("backdoor").execute(clip, scan_dataset(test_folder), BackdoorConfig(), RunContext(num_workers=0))
    path = poison.result_path(poison.PoisonConfig(), "none")
    path.parent.mkdir(parents=True, exist_ok=True)
    stored.to_json(path)

    app = AppTest.from_string(PAGE, default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.metric[0].label == "Attack success rate" and "What the model answers" in [h.value for h in app.subheader]
    assert any("P = 64 of 1,164 fine-tuning pairs" in caption.value for caption in app.caption)
    assert app.button(key="backdoor-run").label == "Build this lab model and measure it (a few minutes on a CPU)"
    assert "What each part of Semantic Shield does" in [h.value for h in app.subheader]
    app.sidebar.radio(key="bd-defense").set_value("cleanclip").run()  # another variant: not measured, not built
    assert not app.exception and not app.metric
    assert any("is not built yet" in info.value for info in app.info)


def test_a_stored_run_opens_on_the_runs_page_with_its_example_photos(tiny_architecture, test_folder, tmp_path, isolated_home):
    from streamlit.testing.v1 import AppTest

    from leakage.cli import main as cli_main
    from leakage.lab.clip_train import save_checkpoint
    from leakage.store import RunStore

    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(open_clip.create_model(tiny_architecture, output_dict=True), checkpoint, {})
    assert cli_main(["backdoor", "--model", tiny_architecture, "--pretrained", str(checkpoint), "--data", str(test_folder),
                     "--images-per-person", "3", "--quiet"]) == 0
    with RunStore() as runs:
        run_id = runs.list()[0].id
        stored = runs.get(run_id)
    app = AppTest.from_file(str(REPO / "app_pages" / "runs.py"), default_timeout=60)
    app.query_params["run"] = str(run_id)
    app.run()
    assert not app.exception, app.exception
    assert "What the model answers" in [header.value for header in app.subheader]  # the backdoor page's own section
    counts = f"{stored.metrics['n_attacked']} attacked and {stored.metrics['n_clean']} clean photos"
    assert any(caption.value.endswith(counts) for caption in app.caption)
    assert app.get("image")  # the photos, triggered and clean
