"""Assign service requests to professionals.

The engine is pure: `problem` (plain data and the JSON exchange format), `solver` (solve, repair),
`greedy`, `explain`, `validate` and `planted` import nothing of the database or the web app.
"""
