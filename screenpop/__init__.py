"""Screen-pop: the caller's history on a handler's desktop while their phone rings.

- :mod:`screenpop.models`    contacts, outcomes, markers, a caller's history (pydantic, frozen)
- :mod:`screenpop.history`   the Redis store; a lookup is one round trip (one EVALSHA)
- :mod:`screenpop.roundtrips` counting round trips on a redis-py connection
- :mod:`screenpop.importer`  markers from JSON lines, checked in full, written all or nothing
- :mod:`screenpop.pop`       pure composition of pop messages from a call and its history
- :mod:`screenpop.popper`    on a ringing phone: lookup (with a deadline), compose, publish
- :mod:`screenpop.messages`  what the server sends to desktops; :mod:`screenpop.inbound` what they send
- :mod:`screenpop.delivery`  the hub: per-handler sequence, bounded outbox per socket, resume, own state
- :mod:`screenpop.shared_delivery` the hub of one node among several: seqs from each handler's Redis stream
- :mod:`screenpop.handler_streams` that stream's I/O: one EVALSHA per batch, the resume read, the tail's read
- :mod:`screenpop.resume`    what a (re)connecting desktop is sent first: the rule, no I/O
- :mod:`screenpop.socket`    one client socket (desktop or wallboard) as a TaskGroup; exceptions -> close codes
- :mod:`screenpop.session`   a desktop's connection on it: token, resume point, outcomes
- :mod:`screenpop.auth`      tokens -> handler ids
- :mod:`screenpop.web`       the thin Starlette adapter
- :mod:`screenpop.latest`    latest-wins fan-out (supervisors' metrics snapshots)
- :mod:`screenpop.errors`    the one error family
"""
