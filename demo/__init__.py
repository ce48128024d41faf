"""`make demo` (`python -m demo`): the seed's whole story offline. The story (start the service, run the pipeline,
classify, show the report, stop) is __main__.py; the labelled images it trains on are digits.py."""
