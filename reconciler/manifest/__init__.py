"""Manifests: load YAML with positions, validate against the schema and the semantic rules, build DesiredState."""
