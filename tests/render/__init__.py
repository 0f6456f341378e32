"""Tests of the render layer: the table of formats and the renderers behind it."""
