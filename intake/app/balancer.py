"""Whether the load balancer may send this node new sockets: the question HAProxy asks
``/healthz?for=balancer`` every 250 ms (config/haproxy/intake.cfg).

A node serves once its first try at the PBX is over (its first snapshot taken, or the try
failed): a desktop that lands on it before then would miss the pop of a call already ringing,
which the other node would have given it. It stops serving the moment it is asked to stop, so
no new socket lands on a node that is closing its own. Nothing else takes a node out: with its
Redis or a PBX away it still serves what it can, as the other node would (both follow the same
PBXs and the same Redis), and a balancer with both nodes out would leave every desktop and
wallboard with nothing at all. The full report, 503 whenever anything is wrong, is plain
``/healthz``, for monitoring.
"""

from __future__ import annotations

from enum import StrEnum


class NodeState(StrEnum):
    STARTING = "starting"
    SERVING = "serving"
    STOPPING = "stopping"


def node_state(*, pbx_tried: bool, stopping: bool) -> NodeState:
    """``pbx_tried``: the first PBX snapshot was taken or the first try failed; ``stopping``:
    the node was asked to stop (SIGTERM, or :meth:`IntakeServer.stop`)."""
    if stopping:
        return NodeState.STOPPING
    return NodeState.SERVING if pbx_tried else NodeState.STARTING
