"""A bibliography whose labels are author-year, like the citations in the text.

sphinxcontrib-bibtex's ``bibtex_reference_style: author_year`` makes the citations read
"Firgiawan (2025)", but its bibliography styles label the list alpha-style ("[Fir25]").
pybtex ships no author-year *label* style, so this one is written here (a few lines over
pybtex's plugin API) and registered as the formatting style ``author_year``: the ``plain``
style with labels "Firgiawan 2025", "Sandler et al. 2018", sorted by author and year
(corporate authors in braces by their name).
"""

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle


def _surnames(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    if names and names[-1] == "others":  # BibTeX's "and others": more authors than listed
        return f"{names[0]} et al."
    if not names:
        return entry.fields.get("organization") or entry.fields.get("title", entry.key).strip("{}")
    if len(names) == 1:
        return names[0]
    return f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield f"{_surnames(entry)} {entry.fields.get('year', 'n.d.')}"


class AuthorYearSorting(SortingStyle):
    """pybtex's author-year-title order, with BibTeX's braces left out of the key: a
    corporate author written ``{Kaggle}`` sorts under K, not after Z (``{`` follows the
    letters), and an entry with no year sorts as "n.d." after the dated ones of its author."""

    def sorting_key(self, entry):
        author, year, title = super().sorting_key(entry)
        return (author.replace("{", "").replace("}", ""), year or "n.d.", title)


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearSorting


def setup(app):
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
