"""The steps of `cvops run`, one module each, in the order they run: project, tags, upload, train,
performance, smoke test, publish."""
