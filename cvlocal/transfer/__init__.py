"""Copying a project between services, as Custom Vision's export_project and import_project do: the signed
token an export hands out (tokens.py), the exporting services an import may fetch from (peers.py), and the
import itself (importer.py). The HTTP side is api/project_copies.py and, for a service that imports from this
one, the token's routes in api/downloads.py. docs/self-hosted.md, "Copying a project", says how it works."""
