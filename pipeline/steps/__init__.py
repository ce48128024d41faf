"""The steps of `cvops run`, one module each, in the order they run: project, tags, upload, train,
performance, gates, smoke (test), publish. `pipeline/commands/run.py` calls them in that order; the report
(pipeline/report.py) is written whatever happens."""
