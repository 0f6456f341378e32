"""Plans: the pure diff, the plan model, its checksum, its saved-file format and its explanations (rendered by
reconciler.render)."""
