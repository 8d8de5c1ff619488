"""Assign service requests to professionals.

The engine is pure: `problem` (plain data and the JSON exchange format), `solver` (solve, repair),
`greedy`, `explain`, `validate` and `planted` import nothing of the database or the web app; the
underscored modules are the solver's parts (`_chains` ejection chains, `_lns` CP-SAT
neighbourhoods, `_model` one neighbourhood's model, `_bound` the travel bound). `service` is the
only bridge to the rows.
"""
