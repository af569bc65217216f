"""The `monitoring-db` source: Skype for Business Server's Monitoring databases
(QoEMetrics, LcsCDR) read incrementally and turned into the records the service takes.

schema.py  the documented tables and columns read;   qoe.py / cdr.py  queries and
rows -> records;   source.py  watermarks, paging, retries;   pump.py  how pages go
through the agent's claim -> send -> finish steps;   config.py  `[monitoring_db]`.
"""
