"""The figures as CSV: one line per figure, for a spreadsheet in Spanish or for a machine.

"es": semicolons, decimal commas, dates dd/mm/yyyy, headers and figure names in the reader's
language, UTF-8 with a BOM (so a spreadsheet opens the accents right); shares in percent.
"machine": commas, raw numbers (shares as fractions, durations in minutes or seconds), ISO
dates, English codes; UTF-8 without BOM.
"""

import csv
import io
from collections.abc import Callable, Iterator

from figures import formats

FORMATS = ("es", "machine")
HEADER = ("section", "week", "dimension", "key", "name", "figure", "value")
# figure code -> (English name, kind): kind says how the value reads (rate, minutes, ...).
FIGURES = {
    "csat_answers": ("CSAT answers", "count"), "csat_rate": ("CSAT (4 and 5)", "rate"),
    "first_response_median_min": ("First response, median (min)", "number"),
    "first_response_p90_min": ("First response, 90th percentile (min)", "number"),
    "resolution_median_min": ("Resolution, median (min)", "number"),
    "resolution_p90_min": ("Resolution, 90th percentile (min)", "number"),
    "sla_cases": ("Solved cases with an SLA", "count"),
    "sla_rate": ("SLA met", "rate"),
    "calls": ("Calls", "count"), "call_seconds": ("Call time (s)", "count"),
    "call_mean_s": ("Mean call (s)", "number"),
    "case_work_cases": ("Cases solved", "count"),
    "case_work_median_min": ("Assignment to solve, median (min)", "number"),
    "case_work_p90_min": ("Assignment to solve, 90th percentile (min)", "number"),
    "backlog": ("Open cases", "count"),
    "asked": ("Services asked", "count"), "fill_rate": ("Fill rate", "rate"),
    "booked_eur": ("Value of covered services (EUR)", "money"),
    "time_to_fill_median_min": ("Time to fill, median (min)", "number"),
    "time_to_fill_p90_min": ("Time to fill, 90th percentile (min)", "number"),
    "cancel_rate": ("Cancellation rate", "rate"), "no_show_rate": ("No-show rate", "rate"),
    "utilisation_rate": ("Utilisation", "rate"),
    "cases": ("New cases", "count"),
}


def lines(report: dict, name: Callable[[str, str], str]) -> Iterator[tuple]:
    """Yield (section, week, dimension, key, name, figure code, value) for every figure."""
    for w in report["weekly"]:
        wk = w["week"]
        yield from (("weekly", wk, "all", "", "", code, value) for code, value in (
            ("csat_answers", w["csat_n"]), ("csat_rate", w["csat"]),
            ("first_response_median_min", w["first_response"]["median"]),
            ("first_response_p90_min", w["first_response"]["p90"]),
            ("resolution_median_min", w["resolution"]["median"]),
            ("resolution_p90_min", w["resolution"]["p90"]),
            ("sla_cases", w["sla_n"]), ("sla_rate", w["sla"]),
            ("calls", w["calls"]["n"]), ("call_seconds", w["calls"]["seconds"]),
            ("backlog", w["backlog"]), ("asked", w["asked"]), ("fill_rate", w["fill"]),
            ("booked_eur", w["booked_cents"]),
            ("time_to_fill_median_min", w["time_to_fill"]["median"]),
            ("time_to_fill_p90_min", w["time_to_fill"]["p90"]),
            ("cancel_rate", w["cancel"]), ("no_show_rate", w["no_show"]),
            ("utilisation_rate", w["utilisation"]), ("cases", w["cases"])))
        for age, n in w["backlog_ages"].items():
            yield ("backlog", wk, "age", str(age), name("age", str(age)), "backlog", n)
    first = report["weeks"][0]
    for a in report["agents"]:
        yield from (("agents", first, "agent", a["key"], name("agent", a["key"]), code, v)
                    for code, v in (
            ("csat_answers", a["csat_n"]), ("csat_rate", a["csat"]),
            ("first_response_median_min", a["first_response"]["median"]),
            ("resolution_median_min", a["resolution"]["median"]),
            ("sla_rate", a["sla"]), ("calls", a["calls"]["n"]),
            ("call_seconds", a["calls"]["seconds"]), ("call_mean_s", a["calls"]["mean"]),
            ("case_work_cases", a["case_work"]["n"]),
            ("case_work_median_min", a["case_work"]["median"]),
            ("case_work_p90_min", a["case_work"]["p90"])))
    for c in report["categories"]:
        yield from (("categories", first, "category", c["key"], name("category", c["key"]),
                     code, v) for code, v in (
            ("cases", c["cases"]), ("csat_answers", c["csat_n"]), ("csat_rate", c["csat"]),
            ("first_response_median_min", c["first_response"]["median"]),
            ("resolution_median_min", c["resolution"]["median"]), ("sla_rate", c["sla"])))
    for s in report["skills"]:
        yield from (("skills", first, "skill", s["key"], name("skill", s["key"]), code, v)
                    for code, v in (
            ("asked", s["asked"]), ("fill_rate", s["fill"]),
            ("time_to_fill_median_min", s["time_to_fill"]["median"]),
            ("cancel_rate", s["cancel"]), ("no_show_rate", s["no_show"])))
    for part, rows in report["professionals"].items():
        code = "csat_rate" if part.startswith("csat") else "utilisation_rate"
        for r in rows:
            yield (f"professionals_{part}", first, "professional", r["key"],
                   name("professional", r["key"]), code, r["rate"])
    for dim in ("category", "tag"):
        for item in report["issues"][dim]:
            for wk, n in item["weeks"]:
                yield ("issues", wk, dim, item["key"], name(dim, item["key"]), "cases", n)


def write(report: dict, fmt: str, *, name: Callable[[str, str], str],
          gettext: Callable[[str], str] = lambda s: s,
          pgettext: Callable[[str, str], str] = lambda c, s: s) -> str:
    """Return the CSV text of a report in format fmt ("es" or "machine")."""
    buf = io.StringIO()
    if fmt == "es":
        buf.write("\ufeff")
        out = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        out.writerow([gettext(h) for h in ("Section", "Week", "Dimension", "Key", "Name",
                                          "Figure", "Value")])
    else:
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(HEADER)
    for section, wk, dim, key, shown, code, value in lines(report, name):
        label, kind = FIGURES[code]
        if fmt == "es":
            out.writerow([pgettext("figures_section", section), f"{wk:%d/%m/%Y}",
                          pgettext("figures_dimension", dim), key, shown, gettext(label),
                          _spanish(value, kind)])
        else:
            out.writerow([section, wk.isoformat(), dim, key, shown, code, _raw(value, kind)])
    return buf.getvalue()


def _spanish(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return formats.number(value * 100, 2, lang="es").replace(".", "")
    if kind == "money":
        return formats.number(value / 100, 2, lang="es").replace(".", "")
    return formats.number(value, 0, lang="es").replace(".", "")


def _raw(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "money":
        return f"{value / 100:.2f}"
    return str(value)
