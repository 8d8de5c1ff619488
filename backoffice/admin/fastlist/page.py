"""A list page's chrome built once per language and role set; its links built without url_for.

Flask-Admin renders the tabs, filter menu, sort links, pager and action menu through Jinja
macros, lazy translations and about fifty url_for calls on every page; on a 2-core machine that
was most of a list page's time. The page keeps the HTML, ids and scripts of Flask-Admin's
admin/model/list.html, so Flask-Admin's filter and action JavaScript work unchanged.
"""

from dataclasses import dataclass
from math import ceil

from flask import current_app, g, request
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_babel import get_locale, gettext
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from backoffice.admin.listing import export_label, last_page
from backoffice.admin.urls import endpoint_url, fixed_url, query_string


@dataclass(frozen=True)
class Chrome:
    """What a list page shows that depends only on the view, the language and the roles."""

    headers: tuple  # (index, column, label, sortable)
    filter_names: tuple
    filter_groups_json: Markup
    actions: tuple  # (name, label)
    actions_json: Markup
    select_message_json: Markup
    search_placeholder: str
    page_size_labels: tuple  # (size, label)
    text: dict


class ListPageMixin:
    """Serve a model's list from admin/fastlist/list.html when the view uses no per-row widgets."""

    fast_list_template = "admin/fastlist/list.html"

    def _fast_list_possible(self) -> bool:
        return not (self.column_editable_list or self.column_extra_row_actions
                    or self.create_modal or self.edit_modal or self.details_modal)

    @expose("/")
    def index_view(self):
        if not self._fast_list_possible():
            return super().index_view()
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        page_size = self.get_safe_page_size(view_args.page_size)
        count, data = self.get_list(view_args.page, sort[0] if sort else None,
                                    view_args.sort_desc, view_args.search, view_args.filters,
                                    page_size=page_size)
        if not data and view_args.page and count and page_size:
            # A page beyond the last (a stale link, a hand-edited number) shows the last page.
            view_args.page = last_page(count, page_size)
            count, data = self.get_list(view_args.page, sort[0] if sort else None,
                                        view_args.sort_desc, view_args.search,
                                        view_args.filters, page_size=page_size)
        if count is not None and page_size:
            num_pages = int(ceil(count / float(page_size)))
        else:
            num_pages = 0 if not page_size else None
        chrome = self.list_chrome()
        urls = ListUrls(self, view_args)
        return_url = urls.current()
        return self.render(
            self.fast_list_template,
            chrome=chrome,
            # Rows go in as finished HTML and a count: the page's row objects are freed when
            # this method returns, not left to the collector with the template's context.
            rows_html=self.render_rows(data, self._list_columns, return_url,
                                       bool(chrome.actions)),
            row_count=len(data),
            count=count,
            urls=urls,
            return_url=return_url,
            num_pages=num_pages,
            pages=pager_pages(view_args.page, num_pages) if num_pages else (),
            page=view_args.page,
            page_size=page_size,
            default_page_size=self.page_size,
            sort_column=view_args.sort,
            sort_desc=view_args.sort_desc,
            search=view_args.search,
            filter_args=self._get_filters(view_args.filters),
            active_filters_json=htmlsafe_json_dumps(
                [(idx, gettext(name), value) for idx, name, value in view_args.filters or []],
                dumps=current_app.json.dumps),
            extra_args=view_args.extra_args,
            exports=[(export_label(kind), fixed_url(self.endpoint + ".export", export_type=kind)
                      + query_string(request.args.to_dict()))
                     for kind in self.export_types] if self.can_export else [],
            create_url=endpoint_url(self, ".create_view") + query_string({"url": return_url}),
            action_url=endpoint_url(self, ".action_view"),
        )

    def _get_list_url(self, view_args) -> str:
        """Return the list's URL for view_args: Flask-Admin's query string, without url_for."""
        return ListUrls(self, view_args).current()

    def list_chrome(self) -> Chrome:
        """Return the page's fixed parts, built once per language and role set."""
        user = g.get("user")
        key = (str(get_locale()), user.roles if user is not None else "")
        cache = self.__dict__.setdefault("_chrome_cache", {})
        chrome = cache.get(key)
        if chrome is None:
            chrome = cache[key] = self._build_chrome()
        return chrome

    def _build_chrome(self) -> Chrome:
        def dumps(obj):
            return htmlsafe_json_dumps(obj, dumps=current_app.json.dumps)

        sortable = self._sortable_columns
        headers = tuple((i, c, str(name), c in sortable)
                        for i, (c, name) in enumerate(self._list_columns))
        # Flask-Admin fixes some filter names in English when the view is built; each language
        # gets them through the catalogue here (and in the active filters below).
        groups = {gettext(str(k)): v for k, v in (self._get_filter_groups() or {}).items()}
        actions, confirmations = self.get_actions_list()
        text = {k: admin_gettext(k) for k in (
            "List", "Create", "Create New Record", "Export", "Add Filter", "With selected",
            "Search", "Apply", "Reset Filters", "items", "Select all records")}
        return Chrome(
            headers=headers,
            filter_names=tuple(groups),
            filter_groups_json=dumps(groups) if groups else Markup(""),
            actions=tuple((name, admin_gettext(label)) for name, label in actions),
            actions_json=dumps({k: str(v) for k, v in confirmations.items()}),
            select_message_json=dumps(admin_gettext("Please select at least one record.")),
            search_placeholder=str(self.search_placeholder() or ""),
            page_size_labels=tuple(
                (s, f"{s} {admin_gettext('items')}")
                for s in self.page_size_options),
            text={**text, "sort_by": {c: admin_gettext("Sort by %(name)s", name=name)
                                      for _, c, name, _ in headers}},
        )


def pager_pages(page: int, pages: int, window: int = 3) -> range:
    """Return the page numbers the pager shows around page (Flask-Admin's lib.pager rule)."""
    low, high = page - window, page + window + 1
    if low < 0:
        high -= low
    if high >= pages:
        low = low - high + pages
    return range(max(low, 0), min(high, pages))


class ListUrls:
    """The links of one list page, each the list's URL with one argument changed.

    The query string is Flask-Admin's (page, sort, desc, search, extra arguments, page size,
    filters, in that order); the arguments no link changes are encoded once per page."""

    def __init__(self, view, view_args):
        self.view, self.args = view, view_args
        self._parts = None

    def _link(self, page, sort, desc, page_size) -> str:
        if self._parts is None:
            args, view = self.args, self.view
            middle = {"search": args.search, **args.extra_args}
            self._parts = (endpoint_url(view, ".index_view") + "?",
                           query_string(middle)[1:],
                           query_string(view._get_filters(args.filters))[1:])
        path, middle, filters = self._parts
        head = []
        if page:
            head.append(f"page={page}")
        if sort is not None:
            head.append(query_string({"sort": sort})[1:])
        if desc:
            head.append("desc=1")
        if middle:
            head.append(middle)
        head.append(f"page_size={self.view.get_safe_page_size(page_size)}")
        if filters:
            head.append(filters)
        return path + "&".join(head)

    def current(self) -> str:
        a = self.args
        return self._link(a.page, a.sort, a.sort_desc, a.page_size)

    def page(self, p: int) -> str:
        a = self.args
        return self._link(p, a.sort, a.sort_desc, a.page_size)

    def sort(self, column: int, invert: bool = False) -> str:
        a = self.args
        return self._link(a.page, column, invert and not a.sort_desc, a.page_size)

    def size(self, s: int) -> str:
        a = self.args
        return self._link(a.page, a.sort, a.sort_desc, s or self.view.page_size)

    def clear_search(self) -> str:
        return ListUrls(self.view, self.args.clone(page=0, search=None, filters=None)).current()
