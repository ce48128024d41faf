"""The labelled images, before anything is uploaded:

- sources.py  where they are: a local folder or manifest (`dataset.path`), or a zip archive downloaded once
              into a cache and checked against its SHA-256 (`dataset.url`); each ends as a local folder
- container.py  an Azure Blob Storage container (`dataset.container`), mirrored into the cache by ETag, with
              the credential from the environment
- scan.py     what they are: a folder-per-tag tree or a CSV/JSON manifest, every image hashed; and whether
              Custom Vision would take them (`validate`)
"""
from pipeline.dataset.scan import Dataset, DatasetImage, Skipped, require_images, scan, validate
from pipeline.dataset.sources import local_root

__all__ = ["Dataset", "DatasetImage", "Skipped", "local_root", "require_images", "scan", "validate"]
