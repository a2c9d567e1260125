"""Tests of the VLM probe: answer scoring, the generic transformers path on two tiny architectures
built offline (LLaVA and Idefics3), the closed-set likelihoods, the probe's result, and the CLI."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakage.answer_match import match_name, names_person, split_name
from leakage.hub import HubUnavailableError
from leakage.lab.vlm import word_level_tokenizer
from leakage.lab.world import make_world
from leakage.lab.portraits import render
from leakage.vlm import (
    VLMProbeConfig,
    answer_logprobs,
    answer_token_ids,
    build_prompt,
    candidate_sets,
    generate_answers,
    load_vlm,
    run_vlm_probe,
)

from vlm_family_models import WORDS, tiny_idefics3, tiny_llava  # the tiny models all VLM tests share

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# --------------------------------------------------------------------------- answer scoring


@pytest.mark.parametrize(
    ("answer", "name", "kind"),
    [
        ("This is Irina Williams.", "Irina Williams", "full"),
        ("IRINA WILLIAMS", "Irina Williams", "full"),
        ("williams, I think", "Irina Williams", "surname"),
        ("It's José Álvarez!", "Jose Alvarez", "full"),
        ("jose alvarez", "José Álvarez", "full"),
        ("Søren Sørensen", "Soren Sorensen", "full"),
        ("Mr. O’Brien", "Seán O'Brien", "surname"),
        ("obrien", "Seán O'Brien", "surname"),
        ("That is Emma de Vries.", "Emma de Vries", "full"),
        ("de Vries", "Emma de Vries", "surname"),
        ("That is Mr Brown", "Irina Brown", "surname"),
        ("This is Dr. Brown", "Irina Brown", "surname"),
        ("I saw Rose Hill today", "Rose Hill", "full"),
    ],
)
def test_answers_that_name_the_person(answer, name, kind):
    match = match_name(answer, name)
    assert match is not None and match.kind == kind
    assert answer[match.start : match.end]


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("a man with brown hair", "Irina Brown"),  # an ordinary word, not written as a name
        ("Brown hair and a red cap.", "Irina Brown"),  # capitalised only because it starts the sentence
        ("This is available", "Ava Smith"),  # first names alone never count
        ("hilltop views", "Ava Hill"),  # whole words only
        ("Williamson", "Irina Williams"),
        ("Vries", "Emma de Vries"),  # a surname with a particle needs the particle
        ("I don't know.", "Irina Williams"),
        ("", "Irina Williams"),
        ("a rose hill garden", "Rose Hill"),
    ],
)
def test_answers_that_do_not_name_the_person(answer, name):
    assert not names_person(answer, name)


@pytest.mark.parametrize(
    ("answer", "name", "others", "kind"),
    [
        ("Noah Williams", "Irina Williams", (), None),  # a namesake is someone else
        ("This is Noah Williams.", "Irina Williams", (), None),
        ("Williams, or maybe Noah Williams", "Irina Williams", (), None),  # the answer names another Williams
        ("It is Zork Williams", "Irina Williams", (), None),  # an unknown given name, written as one
        ("Zork Williams", "Irina Williams", ("Zork Williams",), None),  # another candidate's full name
        ("Zork Williams", "Irina Williams", (), "surname"),  # sentence-initial and in no name list: not known to be a name
        ("Williams", "Irina Williams", ("Noah Williams",), "surname"),
        ("That is Mr Williams", "Irina Williams", ("Noah Williams",), "surname"),  # a title is not a given name
        ("Irina M. Williams", "Irina Williams", (), "surname"),  # her own given name, an initial between
        ("Irina Williams, not Noah Williams", "Irina Williams", (), "full"),  # a full name is always hers
        ("Noah de Vries", "Emma de Vries", (), None),
    ],
)
def test_namesakes_are_not_the_person(answer, name, others, kind):
    match = match_name(answer, name, others)
    assert (match and match.kind) == kind


def test_split_name_keeps_particles_with_the_surname():
    assert split_name("Emma de Vries") == (["emma"], ["de", "vries"])
    assert split_name("Mary Ann Smith") == (["mary", "ann"], ["smith"])
    assert split_name("Madonna") == ([], ["madonna"])
    assert names_person("madonna!", "Madonna")


# --------------------------------------------------------------------------- tiny models, built offline


@pytest.fixture(scope="module")
def portraits() -> list[tuple[str, Image.Image, tuple[int, int, int, int]]]:
    world = make_world(seed=0, n_identities=4)
    return [(person.name, *render(person, index, world_seed=0, size=64)) for person in world.identities for index in range(3)]


@pytest.fixture(scope="module", params=["llava", "idefics3"])
def tiny_vlm(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    (tiny_llava if request.param == "llava" else tiny_idefics3)(folder)
    return load_vlm(folder, device="cpu")


def test_generic_path_loads_generates_and_scores(tiny_vlm, portraits):
    images = [image for _, image, _ in portraits[:3]]
    questions = ["Who is this person?", "What is the name of the person in this image?", "Tell me the name of this person."]
    assert tiny_vlm.model.config.model_type in ("llava", "idefics3")
    assert "<image>" in build_prompt(tiny_vlm.processor, questions[0])
    batched = generate_answers(tiny_vlm, images, questions, max_new_tokens=5)
    one_by_one = [generate_answers(tiny_vlm, [image], [question], max_new_tokens=5)[0] for image, question in zip(images, questions)]
    assert batched == one_by_one  # left padding and greedy decoding: batching changes nothing
    assert batched == generate_answers(tiny_vlm, images, questions, max_new_tokens=5)
    assert all(isinstance(answer, str) for answer in batched)

    answers = ["Irina Williams", "Alexander Reed", "Camila Wagner", "Colton O'Brien"]
    cached = answer_logprobs(tiny_vlm, images[0], questions[0], answers, batch_size=3)
    full = answer_logprobs(tiny_vlm, images[0], questions[0], answers, batch_size=3, use_cache=False)
    np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-4)
    assert (cached < 0).all()


def test_plain_prompt_without_chat_template(tmp_path, portraits):
    vlm = load_vlm(tiny_idefics3(tmp_path, chat_template=False), device="cpu")
    prompt = build_prompt(vlm.processor, "Who is this person?")
    assert prompt.startswith("<image>") and "Who is this person?" in prompt
    assert len(generate_answers(vlm, [portraits[0][1]], ["Who is this person?"], max_new_tokens=3)) == 1


def test_answer_tokens_are_cut_at_the_prompt():
    tokenizer = word_level_tokenizer(WORDS)
    ids = answer_token_ids(tokenizer, "USER: <image>\nWho is this person? ASSISTANT:", "Irina Williams")
    assert tokenizer.convert_ids_to_tokens(ids) == ["Irina", "Williams"]


def test_word_level_tokenizer_keeps_every_special_token_whole():
    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>", "<fake_token_around_image>", "<row_1_col_1>", "<|im_start|>"]
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token="<image>", named_tokens={"boi_token": "<|im_start|>"})
    text = "<|im_start|> Who <row_1_col_1><fake_token_around_image><image> is this person?</s>"
    tokens = tokenizer.tokenize(text)
    assert tokens == ["<|im_start|>", "Who", "<row_1_col_1>", "<fake_token_around_image>", "<image>", "is", "this", "person", "?", "</s>"]
    assert set(specials) <= set(tokenizer.all_special_tokens)
    assert tokenizer.boi_token == "<|im_start|>" and tokenizer.image_token_id == specials.index("<image>")
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == "Who is this person ?"


def test_loading_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_vlm(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        load_vlm(tmp_path)  # a folder without a model
    with pytest.raises(HubUnavailableError, match="local"):
        load_vlm("some-org/some-vlm-that-is-not-cached")


def test_candidate_sets_hold_the_person_and_are_seeded():
    people = [f"Person {letter}" for letter in "ABCDEFGH"]
    sets = candidate_sets(people, 5, seed=3)
    assert all(len(names) == 5 and person in names and len(set(names)) == 5 for person, names in sets.items())
    assert sets == candidate_sets(people, 5, seed=3)
    small = candidate_sets(people[:2], 6, seed=0)
    assert all(people[1 - i] in small[people[i]] for i in range(2))  # few people: everyone meets everyone


# --------------------------------------------------------------------------- a tiny model that knows two people


def overfit_llava(folder: Path, examples: list[tuple[Image.Image, str]], steps: int = 50) -> Path:
    """Teach the tiny LLaVA to answer "Who is this person?" with a name per picture, in seconds."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    prompt = build_prompt(processor, "Who is this person?")
    texts = [prompt + " " + name + "</s>" for _, name in examples]
    batch = processor(images=[[image] for image, _ in examples], text=texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].clone()
    prompt_length = len(processor(images=[[examples[0][0]]], text=[prompt], return_tensors="pt")["input_ids"][0])
    labels[:, :prompt_length] = -100
    labels[batch["attention_mask"] == 0] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, portraits):
    folder = tiny_llava(tmp_path_factory.mktemp("trained"), seed=2)
    known = {portraits[0][0]: "Irina Williams", portraits[3][0]: "Alexander Reed"}
    examples = [(image, name) for name, image, _ in portraits if name in known]
    overfit_llava(folder, examples)
    return folder, examples


def test_closed_set_ranks_the_trained_answer_first(trained):
    folder, examples = trained
    vlm = load_vlm(folder, device="cpu")
    candidates = ["Camila Wagner", "Irina Williams", "Alexander Reed", "Colton O'Brien"]
    for image, name in examples:
        scores = answer_logprobs(vlm, image, "Who is this person?", candidates)
        assert candidates[int(np.argmax(scores))] == name
        assert generate_answers(vlm, [image], ["Who is this person?"], max_new_tokens=4)[0] == name


def write_people(root: Path, people: dict[str, list[Image.Image]], members: dict[str, bool], boxes: dict[str, list] | None = None) -> Path:
    for name, images in people.items():
        (root / name).mkdir(parents=True)
        for index, image in enumerate(images):
            image.save(root / name / f"{index}.png")
    with open(root / "members.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "member", "occurrences"])
        writer.writerows([name, int(member), 3 if member else 0] for name, member in members.items())
    if boxes:
        with open(root / "faces.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "x0", "y0", "x1", "y1"])
            for name, per_image in boxes.items():
                writer.writerows([f"{name}/{index}.png", *box] for index, box in enumerate(per_image))
    return root


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory, trained):
    _, examples = trained
    by_name = {"Irina Williams": [], "Alexander Reed": []}
    for image, name in examples:
        by_name[name].append(image)
    extra = Image.new("RGB", (64, 64), (120, 160, 200))
    people = {**by_name, "Camila Wagner": [extra], "Colton O'Brien": [extra.rotate(90)]}
    members = {"Irina Williams": True, "Alexander Reed": True, "Camila Wagner": False, "Colton O'Brien": False}
    boxes = {name: [(16, 8, 48, 48)] * len(images) for name, images in people.items() if name != "Colton O'Brien"}
    return write_people(tmp_path_factory.mktemp("probe-data"), people, members, boxes)


def test_probe_result_rates_and_closed_set(trained, probe_data):
    from leakage.data import scan_dataset

    vlm = load_vlm(trained[0], device="cpu")
    config = VLMProbeConfig(
        questions=("Who is this person?",), anonymizations=("mask@image", "blur:4"), images_per_person=3, n_candidates=4, max_new_tokens=4
    )
    result = run_vlm_probe(vlm, scan_dataset(probe_data), config)
    rates = result.metrics["leak_rates"]
    assert list(rates) == ["none", "mask@image", "blur:4"]
    assert rates["none"]["members"] == 1.0 and rates["none"]["nonmembers"] == 0.0
    assert rates["blur:4"]["faces_missing"] == 1  # one person has no box in faces.csv and a flat image: no face
    assert result.metrics["auc"] == 1.0
    rows = {row["name"]: row for row in result.identities}
    assert rows["Irina Williams"]["member"] is True and rows["Irina Williams"]["named"] is True
    assert rows["Irina Williams"]["score"] > rows["Camila Wagner"]["score"]
    assert set(rows["Irina Williams"]["leak_rates"]) == {"none", "mask@image", "blur:4"}
    leaked = [row for row in result.images if row["setting"] == "none" and row["answers"][0]["names_person"]]
    assert leaked and leaked[0]["answers"][0]["match"]["kind"] == "full"
    # Full-name and surname-only hits are reported apart, and add up to the leak rate.
    assert rates["none"]["members_full_name"] == 1.0 and rates["none"]["members_surname_only"] == 0.0
    for label, entry in rates.items():
        if entry["members"] is not None:
            assert entry["members_full_name"] + entry["members_surname_only"] == pytest.approx(entry["members"])
    assert rows["Irina Williams"]["leak_rates_full_name"]["none"] == 1.0
    json.loads(result.to_json())



def test_cancel_stops_between_batches(trained, probe_data):
    from cancelling import CancelDuring

    from leakage.context import RunContext
    from leakage.data import scan_dataset
    from leakage.results import RunCancelled

    press = CancelDuring("ask the model")
    config = VLMProbeConfig(questions=("Who is this person?",), images_per_person=3, n_candidates=4, max_new_tokens=4)
    with pytest.raises(RunCancelled):
        run_vlm_probe(load_vlm(trained[0], device="cpu"), scan_dataset(probe_data), config,
                      RunContext(batch_size=2, progress=press, cancel=press.flag))
    assert press.stopped_early() and "closed-set scores" not in press.reached

def test_face_settings_skip_images_without_a_face(trained, tmp_path):
    from leakage.data import scan_dataset

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = write_people(tmp_path / "d", {"Irina Williams": [noise], "Camila Wagner": [noise]}, {"Irina Williams": True, "Camila Wagner": False})
    vlm = load_vlm(trained[0], device="cpu")
    config = VLMProbeConfig(questions=("Who is this person?",), anonymizations=("blur:8",), closed_set=False, max_new_tokens=3)
    result = run_vlm_probe(vlm, scan_dataset(data), config)
    assert result.metrics["leak_rates"]["blur:8"]["faces_missing"] == 2
    assert result.metrics["leak_rates"]["blur:8"]["members"] is None
    assert {row["setting"] for row in result.images} == {"none"}


def test_cli_writes_json_with_the_stable_keys(trained, probe_data, tmp_path, capsys):
    from leakage.cli import main

    out = tmp_path / "probe.json"
    code = main([
        "vlm-probe", "--model", str(trained[0]), "--data", str(probe_data), "--questions", "Who is this person?",
        "--anonymize", "blur:8,pixelate:12,mask", "--images-per-person", "2", "--candidates", "4", "--json", str(out),
        "--no-store", "--quiet", "--device", "cpu",
    ])
    assert code == 0
    data = json.loads(out.read_text())
    assert {"config", "config_hash", "metrics", "identities"} <= set(data)
    assert data["attack"] == "vlm"
    assert set(data["metrics"]["leak_rates"]) == {"none", "blur:8", "pixelate:12", "mask"}
    assert data["config"]["questions"] == ["Who is this person?"]
    assert all({"name", "member", "leak_rates"} <= set(row) for row in data["identities"])
    assert "leak rate" in capsys.readouterr().out


# --------------------------------------------------------------------------- the page


def test_page_runs_a_probe_and_the_gallery_follows_the_anonymization(trained, probe_data, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    app = AppTest.from_string('from ui.attack_page import render\nrender("vlm")', default_timeout=120).run()
    assert not app.exception
    app.radio(key="vlm-source").set_value("Local folder").run()
    app.text_input(key="vlm-spec").set_value(str(trained[0]))
    app.radio(key="vlm-data-source").set_value("Folder").run()
    app.text_input(key="vlm-data-folder").set_value(str(probe_data))
    app.text_area(key="vlm-questions").set_value("Who is this person?")
    app.checkbox(key="vlm-region-image").check()
    app.checkbox(key="vlm-mask").check()
    app.slider(key="vlm-candidates").set_value(4)
    app.run()
    app.button(key="vlm-run").click().run()
    deadline = time.monotonic() + 120
    while not app.get("plotly_chart") and time.monotonic() < deadline:  # the probe runs in a background job
        assert not app.exception, app.exception
        time.sleep(0.2)
        app.run()
    assert not app.exception, app.exception
    problems = [element.value for element in app.error if not element.value.startswith("Leakage detected")]
    assert not problems, problems  # the verdict may be an error box; nothing else may
    assert [*app.error, *app.success, *app.warning], "the verdict comes first"
    assert any("stored as run 1" in element.value for element in app.caption)
    assert app.get("plotly_chart")  # leak-rate chart and the two ROC figures
    app.selectbox(key="vlm-result-gallery-person").set_value("Irina Williams").run()

    def answers_shown() -> str:
        return "\n".join(element.value for element in app.markdown if "<li>" in element.value)

    app.radio(key="vlm-result-gallery-setting").set_value("blur:4").run()
    with_face_blur = answers_shown()
    app.radio(key="vlm-result-gallery-setting").set_value("mask@image").run()
    with_mask = answers_shown()
    assert "<mark" in with_face_blur  # the name is highlighted where it leaks
    assert with_face_blur != with_mask
    assert not app.exception


def test_runs_page_shows_a_stored_probe_with_the_pages_own_sections(trained, probe_data, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from leakage.service import RunRequest, run_attack

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    config = VLMProbeConfig(questions=("Who is this person?",), anonymizations=("blur:4", "mask@image"), images_per_person=3,
                            n_candidates=4, max_new_tokens=4)
    run_id = run_attack(RunRequest("vlm", str(trained[0]), str(probe_data), config=config)).details["run_id"]
    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app_pages" / "runs.py"), default_timeout=120)
    app.query_params["run"] = str(run_id)
    app.run()
    assert not app.exception, app.exception
    subheaders = [element.value for element in app.subheader]
    # The VLM page's own sections, which the standard result view does not have.
    for heading in ("Closed set: what the photo reveals about the name", "Faces found",
                    "Gallery: original and anonymized, with the model's answers", "Per person"):
        assert heading in subheaders, subheaders
    assert any(element.value.startswith("On the original images") for element in app.markdown)
    assert any(element.proto.id.endswith(f"run-{run_id}-leak-chart") for element in app.get("plotly_chart"))
    # The gallery works from the stored run alone, under the Runs page's own keys.
    app.selectbox(key=f"run-{run_id}-gallery-person").set_value("Irina Williams").run()
    app.radio(key=f"run-{run_id}-gallery-setting").set_value("blur:4").run()
    assert not app.exception, app.exception
    assert any("<mark" in element.value for element in app.markdown if "<li>" in element.value)
    # The Runs page's downloads replace the page's own.
    labels = {button.proto.label for button in app.get("download_button")}
    assert "Report (HTML)" in labels and "Download result (JSON)" not in labels

# --------------------------------------------------------------------------- the lab VLM's parts


def test_lab_vlm_parts_go_through_the_generic_loader(tmp_path, portraits):
    from leakage.lab.vlm import LabVLMArchitecture, LabVLMConfig, assign_roles, build_model, build_processor, lab_vocabulary
    from leakage.lab.vlm_texts import profile, slot_values

    config = LabVLMConfig(n_members=6, n_nonmembers=6, n_anonymous=4)
    world, members, nonmembers, anonymous = assign_roles(config)
    assert len(members) == 6 and len(nonmembers) == 6 and not {p.name for p in members} & {p.name for p in nonmembers}
    # Who is a member does not depend on how many anonymous people there are.
    assert assign_roles(LabVLMConfig(n_members=6, n_nonmembers=6, n_anonymous=9))[1] == members
    tokenizer = lab_vocabulary(world)
    tokenizer = word_level_tokenizer(tokenizer)
    for person in world.identities:
        card = profile(person)
        assert all(word in values for word, values in zip(card, slot_values().values()))
        assert tokenizer.unk_token_id not in tokenizer.convert_tokens_to_ids(card)
        ids = tokenizer(person.name, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
    architecture = LabVLMArchitecture(image_size=32, patch_size=16, vision_hidden=32, vision_layers=1, text_hidden=32, text_layers=1)
    model, processor = build_model(tokenizer, architecture, seed=0), build_processor(tokenizer, architecture)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    vlm = load_vlm(tmp_path, device="cpu")
    assert vlm.model.config.model_type == "llava" and vlm.describe()["chat_template"]
    prompt = build_prompt(vlm.processor, "Who is this person?")
    assert prompt == "USER: <image>\nWho is this person? ASSISTANT:"
    assert len(generate_answers(vlm, [portraits[0][1]], ["Who is this person?"], max_new_tokens=3)) == 1
