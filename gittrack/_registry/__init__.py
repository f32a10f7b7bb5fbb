"""The model registry: GTO-format git tags for versions and stages."""
