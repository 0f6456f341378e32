"""Governance: budgets against what the journal records as paid, rules in CEL, reviewed overrides, approval tiers."""
