"""The exceptions queue and the review workflow with its audit log."""
