"""Tests of the `shortpay rules` commands, run in-process through shortpay.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from shortpay.cli import main
from shortpay.rules.schema import RULE_FILES, schema_file_name


def test_validate_valid_rules(rules_dir: Path, capsys):
    code = main(["rules", "validate", "--rules", str(rules_dir)])

    output = capsys.readouterr().out
    assert code == 0
    assert output.startswith(f"{rules_dir}: rules are valid (6 files, 636 reason codes, ")


def test_validate_invalid_rules(rules_dir: Path, capsys):
    path = rules_dir / "dispute_windows.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("window_days: 30", "window_days: 0"),
                    encoding="utf-8")

    code = main(["rules", "validate", "--rules", str(rules_dir)])

    error = capsys.readouterr().err
    assert code == 1
    assert "1 problem in the rule files:" in error
    assert f"{path}, rule dw-default, field window_days: must be a whole number" in error


def test_schema_writes_files(tmp_path: Path, capsys):
    code = main(["rules", "schema", "--out", str(tmp_path / "schema")])

    assert code == 0
    assert sorted(p.name for p in (tmp_path / "schema").iterdir()) == sorted(
        schema_file_name(name) for name in RULE_FILES
    )
    assert capsys.readouterr().out.count("wrote ") == 6


def test_schema_check_finds_stale_file(tmp_path: Path, capsys):
    main(["rules", "schema", "--out", str(tmp_path)])
    assert main(["rules", "schema", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "routing.schema.json").write_text("{}", encoding="utf-8")

    code = main(["rules", "schema", "--out", str(tmp_path), "--check"])

    assert code == 1
    assert "routing.schema.json: missing or out of date" in capsys.readouterr().err


def test_preview_rejects_invalid_rules(rules_dir: Path, tmp_path: Path, capsys):
    (rules_dir / "routing.yaml").unlink()

    code = main([
        "rules", "preview", "--rules", str(rules_dir),
        "--warehouse", str(tmp_path / "warehouse.duckdb"),
    ])

    assert code == 1
    assert f"{rules_dir / 'routing.yaml'}: file not found" in capsys.readouterr().err


def test_preview_json_reports_failure(rules_dir: Path, tmp_path: Path, capsys):
    (rules_dir / "routing.yaml").unlink()

    code = main([
        "rules", "preview", "--rules", str(rules_dir),
        "--warehouse", str(tmp_path / "warehouse.duckdb"), "--json",
    ])

    output = capsys.readouterr()
    assert code == 1
    report = json.loads(output.out)
    assert report["status"] == "failed"
    assert f"{rules_dir / 'routing.yaml'}: file not found" in report["error"]
    assert f"{rules_dir / 'routing.yaml'}: file not found" in output.err


def test_preview_needs_warehouse(rules_dir: Path, tmp_path: Path, capsys):
    code = main([
        "rules", "preview", "--rules", str(rules_dir),
        "--warehouse", str(tmp_path / "warehouse.duckdb"), "--as-of", "2026-11-30",
    ])

    assert code == 1
    assert "published warehouse not found" in capsys.readouterr().err


def test_edit_needs_rules_folder(tmp_path: Path, capsys):
    code = main(["rules", "edit", "--rules", str(tmp_path / "absent"), "--port", "0"])

    assert code == 1
    assert "rules folder not found" in capsys.readouterr().err


def test_preview_without_work_database(rules_dir: Path, tmp_path: Path, capsys):
    published = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(published)).close()

    code = main([
        "rules", "preview", "--rules", str(rules_dir), "--warehouse", str(published),
    ])

    assert code == 1
    assert "work.duckdb: work database not found" in capsys.readouterr().err
