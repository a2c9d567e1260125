"""Lab models as data: entries declared by the attacks and collected by the registry, one recipe
interface with one skeleton (lock, staging folder, manifest, progress, Cancel), one `lab` command,
and pickers that offer only the lab data an attack can read.

The toy recipe below builds in milliseconds without torch, so the whole life of a lab model (list,
build, reuse, info, cancel, clean) runs here on a temporary data home; the real recipes are checked
for their folder names (what finds the labs already built) and on the default lab the suite builds.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import leakage.attacks
from leakage.attacks import ATTACKS, get_attack
from leakage.attacks.base import Attack
from leakage.catalog import (
    LabData,
    LabModel,
    check_data_name,
    lab_catalog,
    lab_data_sets,
    lab_models,
    own_lab_data,
)
from leakage.catalog_entries import collect_lab
from leakage.cli import main as cli_main
from leakage.lab.artifacts import artifact_root, write_manifest
from leakage.lab.recipe import Membership, Recipe
from leakage.results import RunCancelled

# --------------------------------------------------------------------------- a toy attack with its own lab model


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    seed: int = 0
    n_members: int = 3
    n_nonmembers: int = 2

    @classmethod
    def from_dict(cls, data: dict) -> "ToyConfig":
        return cls(**data)


@dataclasses.dataclass
class ToyLab:
    root: Path
    config: ToyConfig
    members: list[str]
    nonmembers: list[str]


class ToyRecipe(Recipe):
    """A 'model' that is a JSON file of the members' names, with an attack set of one folder per person."""

    folder = "lab-toy"
    title = "the toy lab"
    build_format = 2
    manifest = "toy.json"
    override_env = "LEAKAGE_TOY_DIR"
    config_class = ToyConfig
    parts = {"model": "weights.json", "attack": "attack"}
    data_parts = ("attack",)

    def build_into(self, staging: Path, config: ToyConfig, progress) -> ToyLab:
        people = [f"Person {config.seed}-{i}" for i in range(config.n_members + config.n_nonmembers)]
        members, nonmembers = people[: config.n_members], people[config.n_members:]
        staging.mkdir(parents=True)
        for done, person in enumerate(people, 1):
            (staging / "attack" / person).mkdir(parents=True)
            progress("render toy people", done, len(people))
        (staging / "weights.json").write_text(json.dumps(members))
        write_manifest(staging / self.manifest, self.build_format, config, config, members=members, nonmembers=nonmembers)
        return ToyLab(staging, config, members, nonmembers)

    def open(self, root: Path) -> ToyLab:
        record = json.loads((root / self.manifest).read_text())
        return ToyLab(root, ToyConfig.from_dict(record["config"]), record["members"], record["nonmembers"])

    def load(self, config, part, *, device=None, progress=None, cancel=None, name=None):
        lab = self.ensure(config, progress, cancel)
        return {"name": name, "knows": json.loads((lab.root / "weights.json").read_text())}

    def membership(self, config, part) -> Membership:
        lab = self.open(self.root(config))
        return Membership(lab.members, lab.nonmembers)


TOY_RECIPE = ToyRecipe()
TOY_MODEL = LabModel("lab-toy", "clip", "test_lab_catalog:TOY_RECIPE", {}, "lab-toy-data", "a toy model that knows three people")
TOY_DATA = LabData("lab-toy-data", "people", "test_lab_catalog:TOY_RECIPE", {"part": "attack"}, "the toy model's people")
TOY_ATTACK = dataclasses.replace(get_attack("idia"), name="toy", lab_models=(TOY_MODEL,), lab_data=(TOY_DATA,), aliases=())


@pytest.fixture
def toy_home(tmp_path, monkeypatch) -> Path:
    """A temporary data home and a registry that also holds the toy attack (collected like any other)."""
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(leakage.attacks, "LAB", collect_lab([*ATTACKS.values(), TOY_ATTACK]))
    return tmp_path / "home"


def test_a_toy_attack_declaring_its_own_lab_model_goes_through_lab_list_build_info(toy_home, capsys):
    assert cli_main(["lab", "list"]) == 0
    listing = capsys.readouterr().out
    toy_line = next(line for line in listing.splitlines() if line.split()[:1] == ["lab-toy"])
    assert "not built" in toy_line and "data: lab-toy-data" in toy_line and "a toy model that knows three people" in listing

    stages = []
    assert TOY_MODEL.build(progress=lambda stage, done, total: stages.append(stage)) == TOY_MODEL.path()
    assert stages and set(stages) == {"render toy people"}
    assert TOY_MODEL.path().parent.parent == toy_home / "lab-toy" and not list((toy_home / "lab-toy").glob("*.building"))
    again = []
    TOY_MODEL.build(progress=lambda *report: again.append(report))
    assert again == []  # built once, then found

    assert cli_main(["lab", "build", "lab-toy", "--quiet"]) == 0
    assert "lab-toy: reused" in capsys.readouterr().out
    assert cli_main(["lab", "list"]) == 0
    toy_line = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["lab-toy"])
    assert " built " in toy_line and "MB" in toy_line

    assert cli_main(["lab", "info", "lab-toy"]) == 0
    info = capsys.readouterr().out
    assert str(TOY_MODEL.path()) in info and "members (3): Person 0-0, Person 0-1, Person 0-2" in info
    assert "non-members (2)" in info and f"lab-toy-data at {TOY_DATA.path()}" in info
    assert cli_main(["lab", "info", "lab-toy", "--param", "seed=4", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["built"] is False and record["settings"] == "seed=4" and record["path"] != str(TOY_MODEL.path())

    assert TOY_MODEL.load()["knows"] == ["Person 0-0", "Person 0-1", "Person 0-2"]
    from leakage.catalog import resolve_data

    folder_of = lambda data: Path(data)  # noqa: E731  (the toy data is read as its folder)
    assert resolve_data("lab", model="lab-toy", default_lab="lab", load=folder_of) == (TOY_DATA.path(), "lab-toy-data")


def test_a_cancelled_build_leaves_nothing_behind(toy_home):
    cancel = threading.Event()

    def progress(stage, done, total):
        if done == 2:
            cancel.set()

    with pytest.raises(RunCancelled):
        TOY_MODEL.build(progress=progress, cancel=cancel)
    assert not TOY_MODEL.is_built() and not [p for p in (toy_home / "lab-toy").glob("*") if p.is_dir()], "no staging, no half lab"
    TOY_MODEL.build()
    assert TOY_MODEL.is_built()


def test_lab_clean_removes_stale_and_interrupted_builds_and_all_with_all(toy_home, capsys, monkeypatch):
    TOY_MODEL.build()
    current = TOY_MODEL.root()
    monkeypatch.setenv("LEAKAGE_TOY_DIR", str(toy_home / "elsewhere"))  # the default pointed elsewhere: this one stays current
    older = artifact_root("lab-toy", ToyRecipe.build_format - 1, ToyConfig())  # what an older recipe built
    older.mkdir(parents=True)
    write_manifest(older / "toy.json", 1, ToyConfig(), ToyConfig(), members=[], nonmembers=[])
    interrupted = current.with_name("0123456789abcdef.building")
    interrupted.mkdir()
    foreign = current.with_name("fedcba9876543210")  # built by other code (a branch with a setting this one lacks)
    foreign.mkdir()
    (foreign / "toy.json").write_text(json.dumps({"config": {"seed": 0, "shiny": True}}))
    assert cli_main(["lab", "list", "--builds"]) == 0
    listing = [line for line in capsys.readouterr().out.splitlines() if "lab-toy/" in line]
    assert {line.split()[0]: line.split("MB")[-1].strip() for line in listing} == {
        f"lab-toy/{current.name}": "current", f"lab-toy/{older.name}": "stale", f"lab-toy/{interrupted.name}": "stale",
        f"lab-toy/{foreign.name}": "other code (kept; --all removes it)"}

    assert cli_main(["lab", "clean", "lab-toy"]) == 0
    assert "lab-toy: removed 2 of 4 folders" in capsys.readouterr().out
    assert (current / "toy.json").is_file() and foreign.is_dir() and not older.exists() and not interrupted.exists()
    assert cli_main(["lab", "clean", "--all"]) == 0
    assert not current.exists() and TOY_RECIPE.builds() == []


# --------------------------------------------------------------------------- the catalog


def test_the_catalog_is_what_the_attacks_declare_and_read_only():
    declared = {entry.name for attack in ATTACKS.values() for entry in attack.lab_models}
    assert {model.name for model in lab_models()} == declared
    assert {"lab", "lab-control", "lab-vlm", "lab-mae", "lab-mae-reference", "lab-mae-shadow",
            "lab-poisoned", "lab-shielded", "lab-cleanclip"} <= declared
    assert {entry.name for attack in ATTACKS.values() for entry in attack.lab_data} == set(lab_catalog().data)
    from leakage.catalog import LAB_MODELS

    with pytest.raises(TypeError):
        LAB_MODELS["lab-new"] = TOY_MODEL  # type: ignore[index]  # nothing adds to the catalog behind the registry's back
    import leakage.catalog

    assert not hasattr(leakage.catalog, "register_lab_model")


def test_two_different_entries_with_one_name_are_refused():
    impostor = dataclasses.replace(TOY_ATTACK, lab_models=(LabModel("lab", "clip", "test_lab_catalog:TOY_RECIPE"),), lab_data=())
    with pytest.raises(ValueError, match="two different lab models named 'lab': declared by idia and toy"):
        collect_lab([*ATTACKS.values(), impostor])
    same = dataclasses.replace(TOY_ATTACK, lab_models=(lab_catalog().models["lab"],), lab_data=())
    assert collect_lab([*ATTACKS.values(), same]).models["lab"] == lab_catalog().models["lab"]  # one entry, two declarers
    dangling = dataclasses.replace(TOY_ATTACK, lab_data=())
    with pytest.raises(ValueError, match="lab-toy-data"):
        collect_lab([*ATTACKS.values(), dangling])


def test_data_lab_means_the_chosen_models_own_lab_data_set():
    assert own_lab_data("lab-mae-shadow", "lab-mae").name == "lab-mae-shadow"
    assert own_lab_data("lab", "lab-pairs").name == "lab-pairs"  # the lab CLIP's data of the format the attack reads
    assert own_lab_data("lab-poisoned", "lab").name == "lab" and own_lab_data("lab-poisoned", "lab-poison").name == "lab-poison"
    assert own_lab_data("/models/my-clip", "lab").name == "lab"  # not a lab model: the attack's own
    from leakage.lab.vlm import bpe_lab_vlm_config

    bpe = lab_catalog().models["lab-vlm"].with_params(variant="bpe")
    assert own_lab_data(bpe, "lab-vlm").config == bpe_lab_vlm_config()  # a variant's data set is its own


def test_a_poisoned_variant_is_the_poison_recipe_with_parameters():
    from leakage.attacks.backdoor import poisoned_variant
    from leakage.lab.poison import PoisonConfig

    assert poisoned_variant().name == "lab-poisoned" and poisoned_variant(defense="cleanclip").name == "lab-cleanclip"
    assert poisoned_variant("targeted", "blended", 64, "semantic-shield").name == "lab-poison (targeted, P = 64, semantic-shield)"
    variant = poisoned_variant("backdoor", "blended", 8, "semantic-shield", epochs=3)
    assert variant.config == PoisonConfig(trigger="blended", n_poison=8, epochs=3) and variant.part == "semantic-shield"
    assert variant.name not in lab_catalog().models  # made for the page, never added to the catalog
    with pytest.raises(ValueError, match="no setting 'p'"):
        lab_catalog().models["lab-poisoned"].with_params(p=8)


FOLDERS = {
    "lab": "lab/e0c626e735d9c397", "lab-vlm": "lab-vlm/3e1f34ac236efe8b", "lab-mae": "lab-mae/4088708e6ae908c2",
    "lab-poisoned": "lab-poison/3febbb8615d80072", "lab-poison": "lab-poison-data/6da6cfb639ac7939",
    "lab-vlm-bpe": "lab-vlm/45e1e8150d0fe6ed",  # the BPE variant of issue 13, a lab model of its own since issue 21
}
"""Where the recipes built their defaults before they were entries of data: the same folders, so the
labs already in a data home are found, not rebuilt (a recipe change bumps its format on purpose)."""


def test_every_recipe_still_names_the_folders_built_before(tmp_path, monkeypatch):
    for variable in ("LEAKAGE_LAB_DIR", "LEAKAGE_LAB_VLM_DIR", "LEAKAGE_LAB_MAE_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path))
    catalog = lab_catalog()
    for name, folder in FOLDERS.items():
        entry = catalog.models.get(name) or catalog.data[name]
        assert entry.root() == tmp_path / folder, name
    vlm = catalog.models["lab-vlm"]
    assert vlm.with_params(variant="bpe").root().name == "45e1e8150d0fe6ed"
    assert vlm.with_params(variant="exposure").root().name == "b2006be0d2013360"
    assert catalog.models["lab-mae"].with_params(**{"training.epochs": 7}).root().name == "1ee0f80ab15802bd"
    assert catalog.data["lab-pairs"].path() == tmp_path / FOLDERS["lab"] / "pairs-2"  # format 2: the exact training captions


@pytest.mark.slow
def test_the_default_lab_already_built_is_loaded_not_rebuilt(default_lab, isolated_home):
    from leakage.catalog import resolve_data, resolve_model

    stages = []
    clip = resolve_model("lab", "clip", device="cpu", progress=lambda stage, *_: stages.append(stage))
    data, data_id = resolve_data("lab", model="lab", default_lab="lab", progress=lambda stage, *_: stages.append(stage))
    assert stages == [] and clip.model_name == "lab" and data_id == "lab"
    assert lab_catalog().models["lab"].path() == default_lab.clip_checkpoint
    membership = lab_catalog().models["lab"].membership()
    assert sorted(membership.members) == sorted(default_lab.members) and membership.nonmembers == sorted(default_lab.nonmembers)


# --------------------------------------------------------------------------- what an attack can read


def test_pickers_and_the_cli_offer_only_lab_data_an_attack_can_read():
    offered = {name: [entry.name for entry in lab_data_sets(attack)] for name, attack in ATTACKS.items()}
    assert offered == {"idia": ["lab"], "vlm": ["lab-vlm", "lab-vlm-bpe"], "mim": ["lab-mae", "lab-mae-shadow"], "clip-mia": ["lab-pairs"],
                       "backdoor": ["lab", "lab-poison"]}
    check_data_name("lab-pairs", get_attack("clip-mia"))
    check_data_name("lab", get_attack("clip-mia"))  # `lab`: the model's own, whatever its name
    with pytest.raises(ValueError, match="Lab data sets it reads: lab-pairs"):
        check_data_name("lab-mae", get_attack("clip-mia"))

    from streamlit.testing.v1 import AppTest

    app = AppTest.from_string('from ui.attack_page import render\nrender("clip-mia")', default_timeout=60).run()
    assert app.sidebar.radio(key="clip-mia-data-choice").options == ["lab", "lab-pairs", "Folder"]


def test_a_wrong_pairing_from_the_cli_is_refused_at_once_naming_what_works():
    probe = ("import sys, time\nfrom leakage.cli import main\nstarted = time.monotonic()\n"
             "code = main(['clip-mia', '--model', 'lab', '--data', 'lab-mae'])\n"
             "print(code, 'torch' in sys.modules, round(time.monotonic() - started, 2))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    code, torch_loaded, seconds = done.stdout.split()
    assert (code, torch_loaded) == ("2", "False"), done.stderr
    assert "clip-mia cannot use" in done.stderr and "Lab data sets it reads: lab-pairs" in done.stderr
    assert float(seconds) < 2.0
    help_text = subprocess.run([sys.executable, "-m", "leakage", "mim", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "lab-mae-shadow" in help_text and "lab-pairs" not in help_text and "lab-poison" not in help_text


def test_a_wrong_lab_name_is_refused_by_lab_without_torch():
    probe = ("import sys\nfrom leakage.cli import main\ncode = main(['lab', 'build', 'lab-mea'])\n"
             "print(code, 'torch' in sys.modules)")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "unknown lab model or data set 'lab-mea'" in done.stderr and "lab-mae" in done.stderr
    assert time.monotonic() - started < 10


def test_lab_info_of_a_poisoned_variant_says_where_it_would_be(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path))
    from leakage.lab.poison import PoisonConfig, poison_root

    assert cli_main(["lab", "info", "lab-poisoned", "--param", "n_poison=8", "--param", "attack=targeted"]) == 0
    printed = capsys.readouterr().out
    assert str(poison_root(PoisonConfig(attack="targeted", n_poison=8)) / "none.pt") in printed
    assert 'lab build lab-poisoned --param n_poison=8 --param attack="targeted"' in printed
    assert cli_main(["lab", "info", "lab-poisoned", "--param", "n_poisn=8"]) == 2
    assert "no setting 'n_poisn'" in capsys.readouterr().err


def test_every_attack_declares_what_it_reads():
    from leakage.catalog import DATA_FORMATS

    for attack in ATTACKS.values():
        assert attack.reads and set(attack.reads) <= set(DATA_FORMATS)
        assert attack.default_data in {entry.name for entry in lab_data_sets(attack)}, attack.name
    assert Attack.__dataclass_fields__["reads"].default == ("people",)
