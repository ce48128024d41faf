"""One module per `cvops` command, each a function that does the work and returns what the command found:
validate, plan, run, classify, status, rollback, release. pipeline/cli.py parses the arguments and calls them;
pipeline/render.py prints what they return."""
