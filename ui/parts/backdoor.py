"""Backdoors and targeted poisoning of CLIP, and what a defense does about them: the page's parts
(`ui.page_parts`). The sidebar chooses a lab variant (attack, trigger, P, defense, Semantic Shield's
parts, an adaptive attacker) or the user's own CLIP model; a lab variant measured before shows at
once, another one is built and then measured. The result's sections add to the standard ones the
example photos with the model's top-5 names and the attack success rate against P for each defense;
below, the Semantic Shield ablation (`ui.backdoor_lab`).

The attack is declared in `leakage.attacks.backdoor` (evaluation `leakage.backdoor`, poisoned lab
models `leakage.lab.poison`); runs start through the run service (`ui.attack_runs`).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from leakage.attacks.backdoor import poisoned_variant
from leakage.attacks.base import Attack
from leakage.backdoor import TRIGGER_SIZE, TRIGGERS, UPLOADED_TRIGGER, BackdoorConfig, apply_trigger
from leakage.catalog import LabModel
from leakage.data import ImageLoadError, load_image
from leakage.lab import poison
from leakage.results import AttackResult
from ui.attack_runs import start_attack
from ui.backdoor_lab import fraction_text, p_label, show_ablation
from ui.inputs import Inputs
from ui.jobs import job_running
from ui.page_parts import PageParts, default_start
from ui.result_view import (
    show_downloads,
    show_figures,
    show_headline,
    show_items,
    show_problems,
    show_provenance,
    show_verdict,
)
from ui.text import md
from ui.uploads import decoded_uploads

P_CHOICES = (1, 2, 4, 8, 16, 32, 64)
ATTACK_TITLES = {"backdoor": "Backdoor (a trigger on any photo)", "targeted": "Targeted poisoning (A named as B)"}
TRIGGER_IMAGE = "bd-trigger-image"
"""Where the uploaded trigger is kept in this session's memory, to draw it on the example photos."""


def lab_sidebar(attack: Attack) -> Inputs:
    mode = st.radio("Attack", list(ATTACK_TITLES), format_func=ATTACK_TITLES.get, key="bd-attack")
    trigger = st.radio("Trigger", list(TRIGGERS), key="bd-trigger", horizontal=True,
                       help="checkerboard: a black-and-white patch in the bottom-right corner, 19% of the side (BadNets-style; "
                            "the Semantic Shield code pastes a 32-pixel dotted patch, 5-7% of a full-size photo's side). "
                            "blended: a faint noise pattern over the whole photo.") if mode == "backdoor" else ""
    n_poison = st.select_slider("P: poisoned pairs in the fine-tuning data (share of all pairs)", P_CHOICES, value=64,
                                key="bd-p", format_func=p_label,
                                help="Out of 1,100 clean fine-tuning pairs plus the P poisoned ones. The papers poison "
                                     "0.01% (Carlini & Terzis) to 0.1% (the Semantic Shield code); here P = 1 is 0.09%.")
    defense = st.radio("Defense", list(poison.DEFENSES), format_func=poison.DEFENSE_TITLES.get, key="bd-defense",
                       captions=["train on the poisoned data as it is",
                                 "down-weight pairs whose photo does not match the caption's person (Ishmam & Thomas 2024)",
                                 "then fine-tune on clean pairs with self-supervised terms (Bansal et al. 2023)"])
    settings = {}
    if defense == "semantic-shield":
        settings["shield"] = st.radio("Semantic Shield's parts", list(poison.SHIELD_PARTS), format_func=poison.SHIELD_TITLES.get,
                                      key="bd-shield", help="The ablation: which of the defense's parts train the model.")
    if mode == "backdoor" and st.checkbox("Adaptive attacker: poison with look-alikes of the target", key="bd-look-alikes",
                                          help="The poisoned photos are the people the frozen lab CLIP finds closest to "
                                               "the target's description, so Semantic Shield's pair weights do not catch them."):
        settings["poison_selection"] = "look-alikes"
    variant = poisoned_variant(mode, trigger or "checkerboard", int(n_poison), defense, **settings)
    # a named lab model by its name, any other variant as the poison recipe with its settings
    named = variant in attack.lab_models
    return Inputs(model=variant.name if named else "lab-poisoned", data="lab-poison", config=BackdoorConfig(mode=mode),
                  model_params=None if named else variant.params, ready=True, extra={"variant": variant},
                  run_label="Measure this model" if variant.is_built()
                  else "Build this lab model and measure it (a few minutes on a CPU)")


def own_sidebar() -> Inputs:
    model = st.text_input("open_clip model", key="bd-own-model", placeholder="ViT-B-32").strip() or None
    pretrained = st.text_input("Pretrained tag or checkpoint", key="bd-own-pretrained", placeholder="openai").strip() or None
    data = st.text_input("People folder (one subfolder of photos per person)", key="bd-own-data").strip() or None
    mode = st.radio("Attack", list(ATTACK_TITLES), format_func=ATTACK_TITLES.get, key="bd-own-attack")
    target = st.text_input("Target name (what the attacker wants the model to say)", key="bd-own-target").strip()
    source, trigger, trigger_image = "", "", None
    if mode == "targeted":
        source = st.text_input("Source person (a folder name)", key="bd-own-source").strip()
    else:
        upload = st.file_uploader("Trigger image (else the checkerboard)", type=["png", "jpg", "jpeg"], key="bd-own-trigger")
        if upload is not None:  # held in memory (ui.uploads: capped, decoded once), never written to disk
            images, problems = decoded_uploads([upload], "bd-own-trigger", max_files=1)
            for problem in problems:
                st.warning(f"{md(problem.path)}: {md(problem.reason)}")
            if images:
                trigger_image = images[0][1]
                trigger = UPLOADED_TRIGGER + hashlib.sha256(trigger_image.tobytes()).hexdigest()[:12]
                st.session_state[TRIGGER_IMAGE] = trigger_image
    return Inputs(model=model, pretrained=pretrained, data=data, ready=bool(model and data and target and (source or mode == "backdoor")),
                  config=BackdoorConfig(mode=mode, target=target, source=source, trigger=trigger),
                  held={"trigger_image": trigger_image} if trigger_image is not None else None, run_label="Run the measurement")


def sidebar(attack: Attack, key: str) -> Inputs:
    with st.sidebar:
        st.header("Model")
        source = st.radio("Model", ["Lab (poisoned here)", "Your CLIP model"], key="bd-source", label_visibility="collapsed",
                          captions=["the lab CLIP fine-tuned on poisoned data, with or without a defense",
                                    "measure a trigger or a source\u2192target pair on a real model (no training)"])
        return lab_sidebar(attack) if source.startswith("Lab") else own_sidebar()


def stored_result(variant: LabModel) -> AttackResult | None:
    """A lab variant's result at the default settings, kept beside its checkpoint: shown at once."""
    path = poison.result_path(variant.config, variant.part)
    return AttackResult.from_json(path) if path.is_file() else None


def lab_variant(attack: Attack, inputs: Inputs, key: str) -> AttackResult | None:
    """The lab variant's poison fraction; its stored result, shown at once (unless a run of the page is
    under way), or, when it is not built yet, what the button will do."""
    variant = inputs.extra.get("variant")
    if variant is None:
        return None
    job = f"{key}-job"
    st.caption(f"This lab variant: {fraction_text(variant.config)}.")
    stored = stored_result(variant)
    if stored is not None and not job_running(job):
        st.session_state.pop(f"{job}-result", None)  # a finished run of another variant must not take its place
        return stored
    if not variant.is_built():
        st.info(f"This variant ({variant.config.attack}, P = {variant.config.n_poison}, {poison.DEFENSE_TITLES[variant.part]}) "
                "is not built yet. Building "
                "fine-tunes the lab CLIP on the poisoned data; it shows its progress and can be cancelled.")
    return None


def build_and_measure(attack: Attack, inputs: Inputs, job: str) -> None:
    """Build the lab variant (progress, Cancel between training steps), then measure it like any run."""
    variant: LabModel = inputs.extra["variant"]

    def build(running) -> None:
        variant.build(progress=running.progress, cancel=running.cancel)

    start_attack(job, attack.name, inputs.model, inputs.data, inputs.config, model_params=inputs.model_params, prepare=build)


def start(attack: Attack, inputs: Inputs, job: str) -> None:
    (build_and_measure if "variant" in inputs.extra else default_start)(attack, inputs, job)


def show_setup(result: AttackResult, key: str) -> None:
    """The model, the attack, the target, the trigger or source, P and how many photos were attacked."""
    m = result.metrics
    lab = result.model.get("backdoor") or {}
    st.caption(f"model {md(result.model.get('model'))} \u00b7 {m['mode']} \u00b7 target {md(m['target'])}"
               + (f" \u00b7 trigger {md(result.config.get('trigger'))}" if m["mode"] == "backdoor" else f" \u00b7 source {md(result.config.get('source'))}")
               + (f" \u00b7 P = {lab['n_poison']} of {lab['n_pairs']:,} pairs ({100 * lab['poison_fraction']:.2g}%)" if "n_pairs" in lab else "")
               + f" \u00b7 {m['n_attacked']} attacked and {m['n_clean']} clean photos")


def trigger_of(result: AttackResult):
    """The run's trigger: a named one, or the uploaded image while this session holds it (it is never
    stored), else the checkerboard."""
    trigger = result.config.get("trigger") or "checkerboard"
    if not trigger.startswith(UPLOADED_TRIGGER):
        return trigger
    image = st.session_state.get(TRIGGER_IMAGE)
    if image is not None and UPLOADED_TRIGGER + hashlib.sha256(image.tobytes()).hexdigest()[:12] == trigger:
        return image
    return "checkerboard"


def show_examples(result: AttackResult, key: str) -> None:
    examples = result.images
    if not examples:
        return
    st.subheader("What the model answers")
    attacked = [e for e in examples if e["kind"] == "attacked"][:3]
    clean = {e["path"]: e for e in examples if e["kind"] == "clean"}
    trigger = trigger_of(result)
    for example in attacked:
        columns = st.columns(2)
        for column, shown, title in ((columns[0], example, "with the trigger" if example["triggered"] else "attacked photo"),
                                     (columns[1], clean.get(example["path"]), "clean photo")):
            if shown is None:
                continue
            try:
                image = load_image(shown["path"])
            except ImageLoadError as error:  # a moved or deleted file: say so, keep the page
                column.caption(f"cannot show {md(shown['path'])}: {md(error)}")
                continue
            if shown["triggered"]:
                image = apply_trigger(image, trigger, result.config.get("trigger_size", TRIGGER_SIZE))
            inner = column.columns([1, 2])
            inner[0].image(image, width=110, caption=f"{md(shown['person'])}, {title}")
            names = "\n".join(f"{i}. {'**' + md(n) + '**' if n == result.metrics['target'] else md(n)} ({100 * p:.0f}%)"
                              for i, (n, p) in enumerate(shown["top5"], 1))
            inner[1].markdown(names)


def refresh_sweep(result: AttackResult, key: str) -> None:
    """Every lab variant measured so far (not only those measured before this result), for the ASR-against-P figure."""
    setup = result.model.get("backdoor") or {}
    if "poison_key" not in setup:
        return
    result.details["sweep"] = poison.sweep_points(setup)
    if len({p["n_poison"] for p in result.details["sweep"]}) < 2:
        st.caption("Attack success against P appears below once lab models with other P values are built and measured "
                   "(choose another P in the sidebar, or run `python -m bench.backdoor_sweep`).")


def show_per_person(result: AttackResult, key: str) -> None:
    with st.expander("Per person"):
        show_items(result, key)


def ablation(attack: Attack, inputs: Inputs, key: str) -> None:
    if "variant" in inputs.extra:
        show_ablation(inputs.extra["variant"].config)


PARTS = PageParts(
    title="Backdoors and poisoning of CLIP",
    caption="An integrity attack: a few poisoned photo-caption pairs in the training data make the model name a chosen "
            "person, for any photo with a small trigger (backdoor) or for one person's photos (targeted poisoning). "
            "Compare no defense, Semantic Shield and CleanCLIP, with clean accuracy beside the attack's success.",
    inputs=sidebar,
    prepare=lab_variant,
    start=start,
    sections=(show_verdict, show_setup, show_headline, show_examples, refresh_sweep, show_figures, show_problems,
              show_per_person, show_downloads, show_provenance),
    after=ablation,
)
