"""`cvlocal` commands besides `serve`, one module each (keys, backup and restore, gc), and the start-up block
`serve` prints; each adds its own sub-commands to the parser (cli.py) and does its work."""
