"""The real-Asterisk test bed: bring-up (scripts/pbx-up), a raw AMI client that records every
byte, and queue_log reading. For tests, recordings and load runs; never used by the server."""
