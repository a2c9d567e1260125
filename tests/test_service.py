"""The run service (`leakage.service`): every run's checks, model loading, data reading, stamping
and storing in one place, shown with a fifth attack that is only a declaration (tests/confidence_attack.py,
the README's worked example): registered, it runs through the service, the CLI and the store."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from leakage.lab.portraits import write_dataset
from leakage.lab.world import make_world
from leakage.paths import PathNotAllowed
from leakage.service import PlainModels, RunRequest, check_request, run_attack
from leakage.store import RunStore

TINY_CLIP = "lab-clip-s"
"""The lab's small CLIP architecture with fresh random weights: loads in a second, no lab build."""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    return tmp_path / "home"


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight lab people, two photos each, the first four members."""
    world = make_world(3, 8)
    chosen = list(world.identities)
    root = tmp_path_factory.mktemp("people")
    return write_dataset(world, root, chosen, 2, size=48, members={person.name: rank < 4 for rank, person in enumerate(chosen)})


@pytest.fixture
def confidence(monkeypatch: pytest.MonkeyPatch):
    """The fifth attack in the registry: the one line `leakage/attacks/__init__.py` would get."""
    from confidence_attack import ATTACK

    import leakage.attacks

    monkeypatch.setitem(leakage.attacks.ATTACKS, ATTACK.name, ATTACK)
    return ATTACK


class CountingModels(PlainModels):
    """A provider that says what it was asked and whether the run held its turn."""

    def __init__(self) -> None:
        self.loaded: list[str] = []
        self.holding = False
        self.held_during_run = False

    def load(self, kind, spec, pretrained, device, progress):
        self.loaded.append(spec)
        return super().load(kind, spec, pretrained, device, progress)

    @contextlib.contextmanager
    def turn(self, model):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False


def test_a_declared_attack_runs_through_the_service_the_cli_and_the_store(confidence, people: Path, home: Path, capsys) -> None:
    from leakage.audit.plan import Job
    from leakage.cli import main as cli_main
    from leakage.cli_runs import main as runs_main

    models = CountingModels()
    original_run = confidence.run

    def run_in_turn(model, data, config, context):  # the attack runs while the provider's turn is held
        models.held_during_run = models.holding
        return original_run(model, data, config, context)

    import dataclasses

    import leakage.attacks

    leakage.attacks.ATTACKS[confidence.name] = dataclasses.replace(confidence, run=run_in_turn)
    request = RunRequest(confidence.name, TINY_CLIP, str(people), config={"template": "{}"}, label="toy")
    result = run_attack(request, models=models, batch_size=4, num_workers=0)

    assert result.attack == "confidence"  # stamped from the declaration, not by the engine
    assert models.loaded == [TINY_CLIP] and models.held_during_run and not models.holding
    assert result.dataset["id"] == str(people) and result.model["model"] == TINY_CLIP
    assert result.timing["wall_seconds"] > 0 and result.details["run_key"] == request.key
    assert len(result.identities) == 8 and "auc" in result.metrics  # ground truth from members.csv
    # one key for the page cache, a plan's job and the store
    assert Job(attack="confidence", model=TINY_CLIP, data=str(people), config={"template": "{}"}).key == request.key
    with RunStore() as store:
        run_id = result.details["run_id"]
        assert store.find(request.key) == run_id
        row = store.summary(run_id)
        assert (row.attack, row.label, row.headline_metric) == ("confidence", "toy", "auc")
        assert row.headline_value == pytest.approx(result.metrics["auc"])

    # the CLI command and its flags come from the declaration (one flag per config field)
    assert cli_main(["confidence", "--model", TINY_CLIP, "--data", str(people), "--template", "a photo of {}",
                     "--workers", "0", "--label", "from the cli", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Zero-shot confidence in a person's own name on lab-clip-s" in printed and "AUC" in printed
    assert "stored as run" in printed
    assert runs_main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()[2:]
    assert len(listed) == 2 and all("fidence" in line and ("AUC 0." in line or "AUC 1." in line) for line in listed)


def test_a_declared_attack_gets_its_page_and_its_sections_on_the_runs_page(confidence, people: Path, home: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Page parts are declared like everything else: the toy attack names its parts (`Attack.parts`), its generated
    page runs it with them, and the Runs page opens its stored run with the same sections."""
    import dataclasses
    import time

    import leakage.attacks
    from streamlit.testing.v1 import AppTest

    declared = dataclasses.replace(confidence, parts="confidence_parts:PARTS")
    monkeypatch.setitem(leakage.attacks.ATTACKS, declared.name, declared)
    app = AppTest.from_string('from ui.attack_page import render\nrender("confidence")', default_timeout=120).run()
    assert app.title[0].value == declared.title
    assert "The prompt decides what the confidence means: a photo of {}" in [caption.value for caption in app.caption]
    app.sidebar.radio(key="confidence-model-choice").set_value("Other: a path or a model id").run()
    app.sidebar.text_input(key="confidence-model-path").input(TINY_CLIP).run()
    app.sidebar.radio(key="confidence-data-choice").set_value("Folder").run()
    app.sidebar.text_input(key="confidence-data-path").input(str(people)).run()
    button = app.button(key="confidence-run")
    assert button.label == "Measure the confidence" and not button.disabled
    button.click().run()
    deadline = time.monotonic() + 90
    while not app.metric and time.monotonic() < deadline:  # the run is a background job
        time.sleep(0.3)
        app.run()
    assert not app.exception and not app.error, [element.value for element in app.error]
    assert "The names CLIP is surest of" in [header.value for header in app.subheader]
    assert app.metric[0].label == "AUC"
    stored = [caption.value for caption in app.caption if "stored as run" in caption.value]
    assert stored, "the page's run went into the run store"
    run_id = stored[0].rsplit("stored as run ", 1)[1].split()[0]

    runs = AppTest.from_file(str(Path(__file__).parents[1] / "app_pages" / "runs.py"), default_timeout=60)
    runs.query_params["run"] = run_id
    runs.run()
    assert not runs.exception
    assert "The names CLIP is surest of" in [header.value for header in runs.subheader]  # the attack's own section
    assert runs.metric[0].label == "AUC"


def test_requests_are_checked_before_anything_is_loaded_or_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import leakage.catalog

    loaded: list[str] = []
    monkeypatch.setattr(leakage.catalog, "resolve_model", lambda spec, *a, **k: loaded.append(spec))
    monkeypatch.setattr(leakage.catalog, "resolve_data", lambda spec, *a, **k: loaded.append(spec))
    with pytest.raises(ValueError, match="needs a vision-language model"):
        run_attack(RunRequest("vlm", "lab", "lab"))
    with pytest.raises(ValueError, match="takes no teacher model; its further models: shadow, reference"):
        run_attack(RunRequest("mim", "lab-mae", "lab", extra_models={"teacher": "lab-mae"}))
    with pytest.raises(ValueError, match="unknown lab data set 'lab-nope'"):
        run_attack(RunRequest("mim", "lab-mae", "lab-nope"))

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("LEAKAGE_DATA_ROOTS", str(allowed))
    monkeypatch.setenv("LEAKAGE_MODEL_ROOTS", str(allowed))
    outside = str(tmp_path / "outside")
    refused = [
        RunRequest("idia", outside, "lab"),  # the model
        RunRequest("idia", "ViT-B-32", "lab", pretrained=f"{outside}/weights.pt"),  # a checkpoint file
        RunRequest("mim", "lab-mae", "lab", extra_models={"reference": outside}),  # a further model
        RunRequest("idia", "lab", outside),  # the data
        RunRequest("mim", "lab-mae", "lab", extra_models={"shadow": "lab-mae-shadow"}, options={"shadow_data": outside}),
    ]
    for request in refused:
        with pytest.raises(PathNotAllowed, match="Nothing was read"):
            run_attack(request)
    check_request(RunRequest("idia", "lab", str(allowed)))  # inside the roots: fine
    check_request(RunRequest("idia", "lab", outside, dataset=["held in memory"]))  # data in memory names no folder
    assert loaded == []


def test_a_lab_variant_is_the_recipe_with_its_settings_not_a_name_parsed_back():
    """`model_params` make a variant of a lab model (a poisoned CLIP at another P and defense): its
    own key, its settings checked before anything loads, and only for lab models."""
    default = RunRequest("backdoor", "lab-poisoned", "lab-poison")
    variant = RunRequest("backdoor", "lab-poisoned", "lab-poison", model_params={"n_poison": 16, "defense": "cleanclip"})
    assert default.model_spec() == "lab-poisoned"
    entry = variant.model_spec()
    assert entry.config.n_poison == 16 and entry.part == "cleanclip" and entry.kind == "clip"
    assert "n_poison=16" in entry.name and entry.name.startswith("lab-poisoned")
    assert variant.key != default.key
    assert RunRequest("backdoor", "lab-poisoned", "lab-poison", model_params={"defense": "cleanclip", "n_poison": 16}).key == variant.key
    assert check_request(variant).name == "backdoor"
    with pytest.raises(ValueError):
        check_request(RunRequest("backdoor", "lab-poisoned", "lab-poison", model_params={"no_such_setting": 1}))
    with pytest.raises(ValueError, match="not a lab model"):
        check_request(RunRequest("backdoor", "ViT-B-32", "lab-poison", model_params={"n_poison": 16}))
