"""Call Data Connector push agent: runs on a Skype for Business server, reads the QoE and
CDR spool folders, drops excluded users' records, and posts gzip batches to the service
with a crash-safe journal so every record arrives exactly once (docs/reference/ingest.md)."""

__version__ = "0.1.0"
