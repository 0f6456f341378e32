"""The use cases: the only place that orchestrates I/O."""
