"""Point the book's Colab launch buttons at the source notebooks.

The book renders executed copies of the chapters from ``book/chapters/``; the
notebooks to open and run are the sources in ``notebooks/`` (same file names).
The theme builds the Colab link from the page's path, so this rewrites it.
"""

RENDERED, SOURCE = "/book/chapters/", "/notebooks/"


def _rewrite(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            if button.get("url"):
                button["url"] = button["url"].replace(RENDERED, SOURCE)


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _rewrite, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
