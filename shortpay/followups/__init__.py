"""Follow-up correspondence with customers: templates, cadence and delivery."""
