"""Process settings for a long-running web worker."""

import gc

# Collect young objects after 5,000 net allocations rather than 700: a list page allocates tens
# of thousands, and every collection walks the survivors (python bench/panel.py measures it).
GC_THRESHOLDS = (5000, 10, 10)


def settle_heap() -> None:
    """Keep what start-up built (the app, templates, OR-Tools) out of every later collection.

    Without this a full collection walks some 200,000 start-up objects, a pause of 150 ms on
    this project's 2-core machine, and the middle generation's 3 ms pauses land on one page in
    ten. Call it once the app is built, in each worker.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
