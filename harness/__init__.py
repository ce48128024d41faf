"""What tests, benchmarks, the soak and the demo share to run the parts together on one machine, over real
HTTP on loopback; it starts processes and talks to them, and imports neither part's internals:

- process.py   a server as a child process on a free loopback port: started, probed until it answers, stopped
- service.py   the self-hosted service (`python -m cvlocal serve`) on a throw-away data directory
- pipeline.py  `cvops` as a user runs it (a child process, waited for or watched line by line), configs
- rest.py      a raw HTTP client of the Custom Vision REST API, as curl or a portal recipe would call it
- files.py     fixed files served on loopback, standing in for public image and archive URLs
- images.py    small images made at run time (never duplicates of each other)
- datasets.py  where the shared labelled datasets are

Another server (Azurite, a PostgreSQL cluster) is another `ChildProcess`: its command, its readiness probe
and its environment; N replicas of the service are N `RunningService`s, each on its own port.
"""
