"""The process's heap after start-up, kept out of the garbage collector's way.

Start-up builds some 180,000 long-lived objects (the schema, compiled templates and SQL, models,
libraries).  A full collection walks all of them: measured at about 100–150 ms, several times in 20
seconds at 200 events/s, each a pause for every request and message in flight.  Freezing them once
start-up is done leaves the collector only what the running process allocates (measured: full
collections' total pause in a 20-second run from 660–830 ms down to 85–170 ms).
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then move every object that survived start-up to the permanent generation."""
    gc.collect()
    gc.freeze()
