"""Everything that speaks to the PBX: AMI protocol and session, domain events, actions, PBX simulator, SIP phones for tests and load."""
