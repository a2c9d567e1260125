"""Hostile inputs for the security tests: model folders that run code when loaded the unsafe way,
data folders with links that lead out of them, and an audit hook that lists every file opened."""

from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARKER_CODE = '''
import os, pathlib
pathlib.Path(os.environ.get("LEAKAGE_TEST_MARKER", "/tmp/leakage-test-marker")).write_text("model code ran")
'''


def evil_open_clip_folder(folder: Path, marker: Path) -> Path:
    """The folder of issue 22: a real lab-clip-s open_clip model whose config asks for the tokenizer
    with `trust_remote_code` and whose tokenizer_config.json maps AutoTokenizer to a `.py` of the
    folder; that file writes `marker` when it is imported."""
    import open_clip
    import torch

    import leakage.models  # noqa: F401  # registers the lab's open_clip configs

    folder.mkdir(parents=True, exist_ok=True)
    config = open_clip.get_model_config("lab-clip-s")
    config["text_cfg"] = {**config["text_cfg"], "hf_tokenizer_name": str(folder), "tokenizer_kwargs": {"trust_remote_code": True}}
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    torch.manual_seed(0)
    torch.save(open_clip.create_model("lab-clip-s").state_dict(), folder / "open_clip_pytorch_model.bin")
    _custom_tokenizer(folder, marker)
    return folder


def _custom_tokenizer(folder: Path, marker: Path) -> None:
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "auto_map": {"AutoTokenizer": ["evil_tokenizer.EvilTokenizer", None]}, "tokenizer_class": "EvilTokenizer"}))
    (folder / "evil_tokenizer.py").write_text(MARKER_CODE.replace('os.environ.get("LEAKAGE_TEST_MARKER", "/tmp/leakage-test-marker")',
                                                                   repr(str(marker)))
                                               + "\nfrom transformers import PreTrainedTokenizer\n\nclass EvilTokenizer(PreTrainedTokenizer):\n    pass\n")


def evil_transformers_folder(folder: Path, marker: Path, names: list[str]) -> Path:
    """A real tiny CLIPModel folder (save_pretrained) whose config.json maps AutoModel to custom code."""
    from test_clip_families import build_clip_family

    build_clip_family("clip", folder, names)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel", "AutoConfig": "modeling_evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text(MARKER_CODE.replace('os.environ.get("LEAKAGE_TEST_MARKER", "/tmp/leakage-test-marker")',
                                                                  repr(str(marker)))
                                              + "\nfrom transformers import CLIPConfig, CLIPModel\n\n"
                                                "class EvilConfig(CLIPConfig):\n    pass\n\nclass EvilModel(CLIPModel):\n    config_class = EvilConfig\n")
    return folder


def people_with_links_out(root: Path, outside: Path) -> dict[str, Path]:
    """A dataset under `root` (2 people, 2 images each) plus: a person folder that is a link to a folder
    outside, an image that is a link to an image outside, and members.csv as a link to a file outside."""
    from PIL import Image

    for person, colour in (("Ann Lee", (200, 30, 30)), ("Bo Chan", (30, 30, 200))):
        (root / person).mkdir(parents=True)
        for index in range(2):
            Image.new("RGB", (32, 32), colour).save(root / person / f"{index}.png")
    (outside / "Secret Person").mkdir(parents=True)
    for index in range(2):
        Image.new("RGB", (32, 32), (10, 200, 10)).save(outside / "Secret Person" / f"{index}.png")
    (outside / "members.csv").write_text("name,member\nAnn Lee,1\nBo Chan,0\n")
    (root / "Linked Person").symlink_to(outside / "Secret Person", target_is_directory=True)
    (root / "Ann Lee" / "linked.png").symlink_to(outside / "Secret Person" / "0.png")
    (root / "members.csv").symlink_to(outside / "members.csv")
    return {"root": root, "outside": outside}


class OpenedFiles:
    """Every path this process opens while recording (a `sys.addaudithook` on "open"; hooks cannot be
    removed, so one hook records into whichever recorder is active)."""

    active: "OpenedFiles | None" = None
    lock = threading.Lock()
    installed = False

    def __init__(self) -> None:
        self.paths: list[str] = []

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        recorder = cls.active
        if recorder is not None and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            recorder.paths.append(os.path.realpath(path))

    @classmethod
    @contextmanager
    def recording(cls) -> Iterator["OpenedFiles"]:
        with cls.lock:
            if not cls.installed:
                sys.addaudithook(cls._hook)
                cls.installed = True
        recorder = cls()
        cls.active = recorder
        try:
            yield recorder
        finally:
            cls.active = None

    def under(self, folder: Path) -> list[str]:
        folder = os.path.realpath(folder)
        return [path for path in self.paths if path == folder or path.startswith(folder + os.sep)]
