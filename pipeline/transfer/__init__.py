"""Moving a Custom Vision project between services (Azure and the self-hosted one alike, only through the
official SDK): `cvops export`, `cvops import` and `cvops migrate` (pipeline/commands/) are made of these:

- folder.py     the project folder: project.json, manifest.json, the images (folder-per-tag for Multiclass),
                and the journal that makes an interrupted export resume
- endpoints.py  `--from` / `--to`: an endpoint URL, a Pulumi stack, or the CUSTOM_VISION_* variables
- remote.py     what a project holds, read through the SDK: settings, tags, every image (paged), iterations
                and their performance
- download.py   original image bytes from their (signed) URIs, with retries and length checks
- exporting.py  a project into a folder, resumable, hashing every image
- importing.py  a folder into a project: domain by name, tags with their types, the pipeline's upload step
- training.py   after an import: train, gate and publish with the pipeline's steps (`--gates CONFIG`)
- compare.py    both sides by content hash and tags, for the migrate summary
- blobs.py      an export folder copied into an Azure Blob Storage container
"""
