"""Thin wrappers that describe calls to the recorder; one module per library patched."""
