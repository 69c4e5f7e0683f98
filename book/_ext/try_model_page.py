"""Install the *Try the model* page's files into every HTML build of the book.

The page (``book/try.md``) runs the published int8 model in the reader's browser; what it
loads (LiteRT.js from npm, the model, ``try-model.json``, sample images) is not a Sphinx
source, so it is copied into ``_static/try-model/`` once the HTML is written, by
:func:`catsdogs.report.web.install_try_page`, which runs ``npm ci`` when ``node_modules`` is
missing. Any build of the book, ``jupyter-book build .`` included, then has a working page.
"""

from sphinx.errors import ExtensionError
from sphinx.util import logging

log = logging.getLogger(__name__)


def _install(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    try:
        from catsdogs.config import UserError
        from catsdogs.report.web import install_try_page
    except ImportError as err:  # the book is built where the package is installed
        raise ExtensionError(
            f"the 'Try the model' page needs the catsdogs package ({err}): pip install -e \".[docs]\""
        ) from err
    try:
        out = install_try_page(app.outdir)
    except (UserError, FileNotFoundError, RuntimeError) as err:
        raise ExtensionError(f"the 'Try the model' page could not be installed: {err}") from err
    log.info("the 'Try the model' page's files are in %s", out)
    # browsers run no module script from file://, where the build's own message points: say how to serve it
    log.info(
        "the 'Try the model' page works over http: python -m http.server --directory %s, "
        "then open http://localhost:8000/book/try.html",
        app.outdir,
    )


def setup(app):
    app.connect("build-finished", _install)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
