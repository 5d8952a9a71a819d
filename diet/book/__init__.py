"""The Jupyter Book build."""
