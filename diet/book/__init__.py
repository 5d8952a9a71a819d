"""The Jupyter Book build: `build` runs it, `toc` lays out its chapters per task, `pages` writes its generated pages."""

from diet.errors import DietError


class BookError(DietError):
    """The book could not be built: a notebook failed, or Sphinx reported a warning."""
