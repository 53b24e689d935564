"""How afterorder's processes run: helper processes talk with their parent in ``frames``; a
long-running process keeps its start-up heap out of the garbage collector's way (``heap``); a worker
that ``serve`` started stops when ``serve`` is gone (``parent``)."""
