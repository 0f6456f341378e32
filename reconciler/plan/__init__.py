"""Plans: the pure diff, the plan model, its checksum and its renderers."""
