"""Routing policy: what to ask the PBX to do so that 999 calls meet their target."""
