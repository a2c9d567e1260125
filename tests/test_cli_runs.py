"""`python -m leakage runs ...`: list, show, export, delete and import stored runs."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from leakage.cli_runs import main as runs_main
from leakage.results import AttackResult
from leakage.store import RunStore
from runs_fixtures import runs_command, synthetic_backdoor_result, synthetic_result

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    monkeypatch.setenv("LEAKAGE_HOME", str(home))
    monkeypatch.setenv("LEAKAGE_DB_URL", url)
    return {**os.environ, "LEAKAGE_HOME": str(home), "LEAKAGE_DB_URL": url, "PYTHONPATH": str(REPO)}


def run_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*runs_command(), *args], env=env, cwd=cwd or REPO, capture_output=True, text=True, timeout=120)


def test_a_result_file_from_an_attack_run_goes_through_the_real_command_line(env: dict[str, str], tmp_path: Path) -> None:
    result = synthetic_result(seed=41)
    result.to_json(tmp_path / "idia.json")

    stored = run_cli(env, "import", str(tmp_path / "idia.json"), "--label", "from the cli")
    assert stored.returncode == 0, stored.stderr
    run_id = int(stored.stdout.split()[-1])

    listed = run_cli(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["label"], row["config_hash"]) == (run_id, "from the cli", result.config_hash)

    shown = run_cli(env, "show", str(run_id), "--json")
    assert AttackResult.from_dict(json.loads(shown.stdout)).to_dict() == result.to_dict()

    report = run_cli(env, "export", str(run_id), "--format", "html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Plotly.newPlot" in (tmp_path / f"run-{run_id}.html").read_text()

    gone = run_cli(env, "delete", str(run_id))
    assert gone.returncode == 0 and f"deleted run {run_id}" in gone.stdout
    assert run_cli(env, "list").stdout.strip() == "no runs stored"


def test_list_prints_a_table_and_filters(env: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    with RunStore() as store:
        first = store.save(synthetic_result(seed=42, model="ViT-B-32"), label="small")
        second = store.save(synthetic_result(seed=43, model="ViT-L-14", attack="vlm"), label="large")
    assert runs_main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "created", "(UTC)"]
    assert [int(line.split()[0]) for line in lines[2:]] == [second, first]
    assert runs_main(["list", "--attack", "vlm", "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [second]
    assert runs_main(["list", "--search", "nothing like this"]) == 0
    assert capsys.readouterr().out.strip() == "no runs match"


def test_list_leads_each_run_with_its_attacks_headline_metric(env: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    from leakage.attacks import get_attack
    from leakage.wording import format_percent

    membership, backdoor = synthetic_result(seed=46), synthetic_backdoor_result(seed=3)
    with RunStore() as store:
        store.save(membership, label="membership", attack=get_attack("idia"))
        store.save(backdoor, label="poisoned", attack=get_attack("backdoor"))
    assert runs_main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "headline" in lines[0] and "AUC" not in lines[0]
    by_label = {line.split()[-1]: line for line in lines[2:]}
    assert f"ASR {format_percent(backdoor.metrics['asr'])}" in by_label["poisoned"] and "AUC" not in by_label["poisoned"]
    assert f"AUC {membership.metrics['auc']:.3f}" in by_label["membership"]


def test_show_prints_the_summary_numbers_and_top_identities(env: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    result = synthetic_result(seed=44)
    with RunStore() as store:
        run_id = store.save(result, label="baseline")
    assert runs_main(["show", str(run_id)]) == 0
    out = capsys.readouterr().out
    assert result.config_hash in out and "baseline" in out
    assert f"{result.metrics['auc']:.3f}" in out
    top = max(result.identities, key=lambda row: row["score"])
    assert top["name"] in out and "more (runs export" in out


def test_export_json_and_csv(env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = synthetic_result(seed=45)
    with RunStore() as store:
        run_id = store.save(result)
    assert runs_main(["export", str(run_id), "--format", "json", "--out", str(tmp_path / "run.json")]) == 0
    assert AttackResult.from_json(tmp_path / "run.json").to_dict() == result.to_dict()
    capsys.readouterr()
    assert runs_main(["export", str(run_id), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["name"] for row in rows] == [row["name"] for row in result.identities]
    assert {"score", "member", "predicted_member", "occurrences"} <= set(rows[0])


def test_missing_runs_are_reported_with_exit_code_1(env: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    for command in (["show", "999"], ["export", "999", "--format", "csv"], ["delete", "999"]):
        assert runs_main(command) == 1
        assert "no run with id 999" in capsys.readouterr().err
