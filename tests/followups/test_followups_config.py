"""Validation and resolution of rules/followups.yaml."""

from __future__ import annotations

import pytest

from shortpay.followups.config import FollowupRulesError, load_followup_rules
from shortpay.settings import DEFAULT_RULES_DIR

VALID = """
cadences:
  - id: cadence-default
    description: Everyone.
    trigger: invalid
    reminder_days: [7, 14]
    escalate_after_reminders: 2
    escalation_days: 7
    stop_statuses: [approved, recovered, written_off, closed]
    stop_after_deadline: true
  - id: cadence-fast
    description: The group is chased weekly.
    parent_customer_id: GROUP
    reminder_days: [3, 3, 3]
  - id: cadence-c9
    description: C9 only gets a first notice.
    customer_id: C9
    reminder_days: []
    escalate_after_reminders: 0
contacts:
  - id: contact-default
    description: English from accounts receivable.
    language: en
    country_languages: {DE: de}
    sender: {email: ar@shortpay.example, name: AR}
  - id: contact-c9
    description: C9 wants French.
    customer_id: C9
    language: fr
"""


def write(tmp_path, text: str):
    (tmp_path / "followups.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_bundled_rules_load():
    rules = load_followup_rules(DEFAULT_RULES_DIR)

    cadence = rules.cadence_for("ANY", None)
    assert cadence.trigger == "invalid"
    assert cadence.reminder_days == (7, 14)


def test_scopes_merge_field_by_field(tmp_path):
    rules = load_followup_rules(write(tmp_path, VALID))

    group = rules.cadence_for("C1", "GROUP")
    assert group.rule_id == "cadence-fast"
    assert group.reminder_days == (3, 3, 3)
    assert group.escalation_days == 7
    assert group.reminder_count == 2
    alone = rules.cadence_for("C9", "GROUP")
    assert alone.rule_id == "cadence-c9"
    assert alone.reminder_days == ()
    assert alone.escalate_after_reminders == 0
    assert rules.contact_for("C9", None, "DE").language == "fr"
    assert rules.contact_for("C1", None, "de").language == "de"
    assert rules.contact_for("C1", None, None).language == "en"
    assert rules.contact_for("C9", None).sender.email == "ar@shortpay.example"


def test_errors_name_file_rule_and_field(tmp_path):
    text = VALID.replace("trigger: invalid", "trigger: sometimes").replace(
        "language: fr", "language: xx"
    ).replace("reminder_days: [3, 3, 3]", "reminder_days: [0]")
    folder = write(tmp_path, text)

    with pytest.raises(FollowupRulesError) as raised:
        load_followup_rules(folder)

    lines = str(raised.value).splitlines()
    path = folder / "followups.yaml"
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}: cadences[cadence-default].trigger: 'sometimes' is not")
    assert lines[1].startswith(f"{path}: cadences[cadence-fast].reminder_days[0]: 0 is less")
    assert lines[2].startswith(f"{path}: contacts[contact-c9].language: 'xx' is not")


def test_missing_description_and_unknown_field(tmp_path):
    text = VALID.replace("    description: C9 wants French.\n", "    colour: blue\n")

    with pytest.raises(FollowupRulesError) as raised:
        load_followup_rules(write(tmp_path, text))

    message = str(raised.value)
    assert "contacts[contact-c9]: 'description' is a required property" in message
    assert "contacts[contact-c9]: Additional properties are not allowed ('colour'" in message


def test_scope_errors_collected(tmp_path):
    text = VALID.replace("    parent_customer_id: GROUP\n", "    customer_id: C9\n").replace(
        "    language: en\n", ""
    )

    with pytest.raises(FollowupRulesError) as raised:
        load_followup_rules(write(tmp_path, text))

    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("cadences[cadence-c9]: same scope as rule cadence-fast")
    assert lines[1].endswith("contacts[contact-default].language: missing in the default rule")


def test_missing_default_rule(tmp_path):
    text = VALID.replace(
        "    description: English from accounts receivable.\n",
        "    description: English from accounts receivable.\n    customer_id: C1\n",
    )

    with pytest.raises(FollowupRulesError, match=r"contacts: missing a default rule"):
        load_followup_rules(write(tmp_path, text))


def test_missing_and_malformed_file(tmp_path):
    with pytest.raises(FollowupRulesError, match="followups.yaml: file not found"):
        load_followup_rules(tmp_path)
    with pytest.raises(FollowupRulesError, match="followups.yaml: invalid YAML"):
        load_followup_rules(write(tmp_path, "cadences: [\n"))
    with pytest.raises(FollowupRulesError, match=r"\(top level\): None is not of type"):
        load_followup_rules(write(tmp_path, ""))
