"""Three fixes to the theme the book is rendered with (Jupyter Book 1 with sphinx-book-theme
1.3 over pydata-sphinx-theme 0.17), kept together here rather than spread over _config.yml:

* the pydata navbar shows above the book theme's own header, a second bar with a second
  search box: ``book/_static/catsdogs.css`` hides it on screens wide enough for the sidebar
  (below that width it holds the sidebar toggles);
* sphinx-thebe adds its inline configuration script twice, so every page load logs
  ``Identifier 'THEBE_JS_URL' has already been declared``: identical scripts are kept once;
* pydata's page script reads the light/dark mode from the template's ``default_mode``, which
  nothing sets, so a first visit logs ``Got invalid theme mode: . Resetting to auto.``: it is
  set to ``auto`` (what the script falls back to), unless the configuration sets it.
"""

from pathlib import Path


def _unique_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # the same script may come once with filename None and once with "" (an inline body)
        name = getattr(js, "filename", js) or ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _default_mode(app, config):
    config.html_context.setdefault("default_mode", "auto")


def setup(app):
    app.connect("config-inited", _default_mode)
    app.config.html_static_path.append(str(Path(__file__).resolve().parent.parent / "_static"))
    app.add_css_file("catsdogs.css")
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
