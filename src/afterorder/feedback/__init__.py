"""What providers send back, one receiver per provider named like its channel
(``channels/<provider>.py`` ↔ ``feedback/<provider>.py``): bounces, complaints, delivery statuses,
LINE follows and account links, SMS replies (STOP, START, HELP).  Each verifies the request, reads
it into the shared types of ``base.py`` and hands it to ``receiver.py``; a refused request raises
one of ``afterorder.intake.errors``, the tree the platform intake shares."""
