"""The DockerFile export's container: server.py is copied into the package as app/server.py (training/export.py)."""
