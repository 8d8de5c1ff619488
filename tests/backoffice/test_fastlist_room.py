"""The fastlist room's contract with Flask-Admin: each private name, method body and template it
relies on, checked against the installed Flask-Admin. An upgrade that changes one fails here,
naming it and the file to re-check, instead of breaking a list page quietly.

A fingerprint is the hash of a Flask-Admin method's source or of a file it ships: any change,
even one that turns out harmless, asks for a look. After the look, put the new hash here.
"""

import ast
import hashlib
import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import flask_admin
import pytest
from flask_admin.base import BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import BaseModelView
from flask_admin.model.base import ViewArgs

ROOT = Path(__file__).resolve().parents[2]
ROOM = ROOT / "backoffice" / "admin" / "fastlist"
FLASK_ADMIN = Path(flask_admin.__file__).resolve().parent
TEMPLATES = FLASK_ADMIN / "templates" / "bootstrap4"
OURS = ROOT / "backoffice" / "templates"

# Methods the room overrides or calls: (owner, name, parameters after self, where).
METHODS = [
    (ModelView, "get_list",
     "page sort_column sort_desc search filters execute page_size",
     "fastlist/listing.py (overrides it, calls it with execute=False); admin/listing.py"),
    (ModelView, "get_count_query", "", "fastlist/listing.py (returns counts.CappedCount)"),
    (ModelView, "_apply_sorting", "query joins sort_column sort_desc", "fastlist/listing.py"),
    (ModelView, "_get_default_order", "", "fastlist/listing.py _plain_order"),
    (ModelView, "_apply_search", "query count_query joins count_joins search",
     "fastlist/counts.py (CappedCount is its count_query); admin/requests.py overrides it"),
    (BaseModelView, "index_view", "", "fastlist/page.py (overrides it, same URL)"),
    (BaseModelView, "details_view", "", "fastlist/record.py (overrides it, same URL)"),
    (BaseModelView, "_export_csv", "return_url", "fastlist/listing.py (overrides it)"),
    (BaseModelView, "_get_list_value",
     "context model name column_formatters column_type_formatters",
     "fastlist/cells.py (overrides it)"),
    (BaseModelView, "_get_list_url", "view_args", "fastlist/page.py (overrides it: ListUrls)"),
    (BaseModelView, "_get_list_extra_args", "",
     "fastlist/page.py, fastlist/listing.py; admin/base.py SecureModelView (page clamp)"),
    (BaseModelView, "_get_column_by_idx", "idx", "fastlist/page.py, fastlist/listing.py"),
    (BaseModelView, "_get_filters", "filters", "fastlist/page.py"),
    (BaseModelView, "_get_filter_groups", "", "fastlist/page.py list_chrome"),
    (BaseModelView, "get_safe_page_size", "page_size", "fastlist/page.py"),
    (BaseModelView, "get_export_value", "model name", "admin/listing.py (neutralises it)"),
    (BaseModelView, "export", "export_type", "admin/listing.py (audits it, same URL)"),
    (BaseView, "render", "template kwargs", "admin/listing.py (reads index_view's arguments)"),
]

# Methods whose bodies the room re-implements or whose insides it leans on.
BODIES = {
    (ModelView, "get_list"): ("ac7e22bfc60584dc", "fastlist/listing.py get_list and "
                              "fastlist/counts.py (count_query.scalar() must return the "
                              "CappedCount, which the page then reads beside its rows)"),
    (ModelView, "_apply_path_joins"): ("0a34dca9eb274e15", "fastlist/counts.py CappedCount.join"
                                       " and outerjoin"),
    (ModelView, "_apply_filters"): ("64538584741e5283", "fastlist/counts.py CappedCount.filter"),
    (ModelView, "_apply_search"): ("e3517f322dc1be9a", "fastlist/counts.py CappedCount.filter "
                                   "and admin/requests.py _apply_search"),
    (ModelView, "_apply_sorting"): ("379b6760b54033fc", "fastlist/listing.py _plain_order"),
    (ModelView, "_get_default_order"): ("3f47bd0647f840e0", "fastlist/listing.py _plain_order"),
    (BaseModelView, "index_view"): ("06f4d821827d5ae8", "fastlist/page.py index_view, and "
                                    "admin/listing.py render (count, page, page_size, "
                                    "filter_groups, active_filters)"),
    (BaseModelView, "details_view"): ("a33a46abd867516b", "fastlist/record.py details_view"),
    (BaseModelView, "_export_csv"): ("f460d7a68cb61cfb", "fastlist/listing.py _export_csv"),
    (BaseModelView, "_export_data"): ("1a763691f35612ee", "admin/listing.py get_list (an "
                                      "export asks for page_size 0 and gets a stream)"),
    (BaseModelView, "_get_list_url"): ("90667634b9609a6c", "fastlist/page.py ListUrls"),
    (BaseModelView, "_get_list_value"): ("4d3fb450be8f7412", "fastlist/cells.py _cell_reader"),
}

# Flask-Admin files the panel copies or keeps markup for: (fingerprint, what to re-check).
FILES = {
    "templates/bootstrap4/admin/model/list.html": (
        "21003d92feb9a75c", "templates/admin/fastlist/list.html (a copy) and "
        "templates/admin/plain_list.html (its list_row block)"),
    "templates/bootstrap4/admin/model/details.html": (
        "c4aa5d6ca9b9b82d", "templates/admin/fastlist/details.html (a copy) and "
        "templates/admin/details_with_history.html (its details_table block)"),
    "templates/bootstrap4/admin/model/layout.html": (
        "9801f7f6e21b6dfe", "templates/admin/fastlist/list.html (menus and forms) and "
        "templates/admin/model/layout.html (a copy without the inline onclick)"),
    "templates/bootstrap4/admin/actions.html": (
        "685288ebd9108462", "templates/admin/fastlist/list.html (action menu and form) and "
        "templates/admin/actions.html (a copy with data-model-action)"),
    "templates/bootstrap4/admin/model/row_actions.html": (
        "4dc1ade152ecd029", "fastlist/cells.py render_rows (the row buttons) and "
        "templates/admin/model/row_actions.html (a copy with data-confirm)"),
    "templates/bootstrap4/admin/lib.html": (
        "21a2c36fee3e1984", "fastlist/page.py pager_pages and the pager of "
        "templates/admin/fastlist/list.html"),
    "templates/bootstrap4/admin/static.html": (
        "efbdfee9e7f4eef8", "templates/admin/static.html (its url macro)"),
    "templates/bootstrap4/admin/model/inline_list_base.html": (
        "9385d36000f838cd", "templates/admin/model/inline_list_base.html (a copy with "
        "data-inline-add)"),
    "static/admin/js/actions.js": (
        "16e9981042f7fcca", "templates/admin/fastlist/list.html: #action_form, "
        "#actions-confirmation-data, #message-data, .action-checkbox, .action-rowtoggle"),
    "static/admin/js/bs4_filters.js": (
        "96b81607e075be9d", "templates/admin/fastlist/list.html: #filter_form, "
        "#filter-groups-data, #active-filters-data, a.filter, table.filters"),
    "static/admin/js/details_filter.js": (
        "5ce956d94e548837", "templates/admin/fastlist/details.html: #fa_filter, "
        "table.searchable"),
}

# Attributes Flask-Admin sets when it builds a view, which the room reads.
BUILT = {
    "_list_columns": Sequence, "_sortable_columns": Mapping, "_sortable_joins": Mapping,
    "_auto_joins": Sequence, "_column_choices_map": Mapping, "_export_columns": Sequence,
    "_details_columns": Sequence, "_search_supported": bool,
}
VIEW_ARGS = "page page_size sort sort_desc search filters extra_args"


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def changed(what: str, where: str, *, fingerprinted: bool = False) -> str:
    then = " (then put its new fingerprint in this test)" if fingerprinted else ""
    return f"Flask-Admin {flask_admin.__version__} changed {what}; re-check {where}{then}"


def named_files(where: str) -> list[Path]:
    """Return the panel files a message names, so the messages stay true."""
    found = []
    for name in re.findall(r"[\w/]+\.(?:py|html)", where):
        base = OURS if name.startswith("templates/") else ROOT / "backoffice"
        path = base / name.removeprefix("templates/")
        found.append(path if path.exists() else ROOT / "backoffice" / "admin" / name)
    return found


@pytest.mark.parametrize(("owner", "name", "params", "where"), METHODS,
                         ids=[f"{o.__name__}.{n}" for o, n, _, _ in METHODS])
def test_each_method_the_room_relies_on_is_there_with_its_arguments(owner, name, params, where):
    method = getattr(owner, name, None)
    assert callable(method), changed(f"{owner.__name__}.{name} (it is gone)", where)
    got = [p for p in inspect.signature(method).parameters if p != "self"]
    assert got == params.split(), changed(
        f"the arguments of {owner.__name__}.{name} to {got}", where)


@pytest.mark.parametrize(("key", "expected"), BODIES.items(),
                         ids=[f"{o.__name__}.{n}" for o, n in BODIES])
def test_each_method_body_the_room_leans_on_is_unchanged(key, expected):
    owner, name = key
    digest, where = expected
    source = textwrap.dedent(inspect.getsource(owner.__dict__[name]))
    assert fingerprint(source.encode()) == digest, changed(f"{owner.__name__}.{name}", where,
                                                           fingerprinted=True)


@pytest.mark.parametrize(("path", "expected"), FILES.items(), ids=list(FILES))
def test_each_flask_admin_file_the_panel_copies_is_unchanged(path, expected):
    digest, where = expected
    file = FLASK_ADMIN / path
    assert file.exists(), changed(f"{path} (it is gone)", where)
    assert fingerprint(file.read_bytes()) == digest, changed(path, where, fingerprinted=True)


def test_each_attribute_the_room_reads_is_built_with_the_view(app):
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "service_request")
    for name, kind in BUILT.items():
        assert isinstance(getattr(view, name, None), kind), changed(
            f"ModelView.{name} (no longer a {kind.__name__} on a built view)",
            "fastlist/listing.py, fastlist/cells.py, fastlist/page.py, fastlist/record.py")
    args = ViewArgs(page=1, page_size=20, sort=None, sort_desc=None, search=None, filters=None,
                    extra_args={})
    assert all(hasattr(args, f) for f in VIEW_ARGS.split()), changed(
        "ViewArgs", "fastlist/page.py ListUrls")
    assert args.clone(page=2).page == 2, changed("ViewArgs.clone", "fastlist/page.py ListUrls")


def test_each_flask_admin_static_file_the_room_names_is_shipped():
    for template in (OURS / "admin" / "fastlist").glob("*.html"):
        for name in re.findall(r"static_url\('([^']+)'", template.read_text()):
            assert (FLASK_ADMIN / "static" / name).exists(), changed(
                f"static/{name} (it is gone)", f"templates/admin/fastlist/{template.name}")


def test_each_block_the_panel_theme_fills_is_in_flask_admins_base():
    """templates/admin/backoffice_base.html (every page: parts cached by admin/menu.py) fills
    blocks of Flask-Admin's admin/base.html and calls its layout.menu()."""
    base = (TEMPLATES / "admin" / "base.html").read_text()
    ours = (OURS / "admin" / "backoffice_base.html").read_text()
    for block in re.findall(r"{% block (\w+) %}", ours):
        assert f"{{% block {block} %}}" in base, changed(
            f"admin/base.html (no block {block})", "templates/admin/backoffice_base.html")
    assert "{% macro menu(" in (TEMPLATES / "admin" / "layout.html").read_text(), changed(
        "admin/layout.html (no menu macro)", "templates/admin/backoffice_base.html")


def test_each_file_a_message_names_exists():
    wheres = [w for *_, w in METHODS] + [w for _, w in BODIES.values()] + [
        w for _, w in FILES.values()]
    missing = {str(p.relative_to(ROOT)) for w in wheres for p in named_files(w)
               if not p.exists()}
    assert missing == set()


def private_flask_admin_imports(source: str) -> list[str]:
    """Return each private Flask-Admin name (a module or a name starting with _) the source
    imports or reaches through a module path."""
    def private(dotted: str) -> bool:
        parts = dotted.split(".")
        return parts[0] == "flask_admin" and any(
            p.startswith("_") and not (p.startswith("__") and p.endswith("__"))  # not __file__
            for p in parts[1:])

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [name for name in [node.module] + [f"{node.module}.{a.name}"
                                                        for a in node.names] if private(name)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if private(a.name)]
        elif isinstance(node, ast.Attribute) and private(dotted_name(node)):
            found.append(dotted_name(node))
    return sorted(set(found))


def dotted_name(node) -> str:
    """Return a.b.c for an attribute chain on a name, or "" for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def test_the_private_name_check_catches_each_form():
    assert private_flask_admin_imports("from flask_admin._compat import csv_encode") != []
    assert private_flask_admin_imports("from flask_admin.model.base import _x") != []
    assert private_flask_admin_imports("import flask_admin._compat") != []
    assert private_flask_admin_imports("import flask_admin\nflask_admin._backwards.x") != []
    assert private_flask_admin_imports("from flask_admin.model import typefmt") == []


def test_no_module_outside_the_room_imports_a_private_flask_admin_name():
    skip = {".venv", ".git", "node_modules", "build", "dist"}
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if skip & set(rel.parts) or ROOM in path.parents:
            continue
        names = private_flask_admin_imports(path.read_text(encoding="utf-8"))
        if names:
            found[str(rel)] = names
    assert found == {}, f"only backoffice/admin/fastlist/ may import these: {found}"


def test_the_private_babel_attribute_the_panel_sets_is_still_what_the_domain_reads():
    """backoffice.panel sets flask_admin.babel.domain._translation_directories so that only our
    compiled catalogue is read; a Flask-Babel that stops reading it would bring "Salvar" back."""
    import inspect

    from flask_admin import babel as admin_babel
    from flask_babel import Domain

    assert hasattr(admin_babel.domain, "_translation_directories")
    assert "self._translation_directories" in inspect.getsource(
        Domain.translation_directories.fget)
