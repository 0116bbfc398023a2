"""The busy-hour load scenario of the routing policy (scripts/busy_hour.py).

:mod:`.profile` reads what the hour is made of (arrival rates per interval, handlers, talk,
wrap-up and patience), :mod:`.load` draws the hour's calls from it and plays the callers and
handlers, :mod:`.replay` runs that hour through the simulated PBX and intake's routing path on a
virtual clock, and :mod:`.report` sets the runs side by side.
"""
