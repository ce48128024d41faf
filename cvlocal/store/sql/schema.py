"""The schema: numbered migrations, applied once and in order, the same on every engine.

Migration 1 is the schema of every data folder made before versioning came (its statements create only what
is missing, so such a folder takes it as a no-op and is at version 1 from then on). A change to the schema is
a new migration at the end, never an edit of an old one. `migrate` runs in `Database.migration()`, which one
process at a time holds (SQLite: an immediate transaction; PostgreSQL: an advisory lock), so replicas that
start together apply each migration once; DDL is transactional on both, so a migration applies whole or not.
The column types are SQLite's; PostgreSQL's engine maps REAL and BLOB to its own (store/postgres/db.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .db import Database, utcnow

log = logging.getLogger("cvlocal.store")


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer cvlocal than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS = (
    Migration(1, "projects, tags, images, iterations, exports, features, predictions", """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    domain_id TEXT NOT NULL,
    classification_type TEXT NOT NULL,
    target_export_platforms TEXT NOT NULL DEFAULT '[]',
    iteration_counter INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS projects_by_name ON projects(name);

CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL DEFAULT 'Regular',
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tags_by_name ON tags(project_id, name);

CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS images_by_content ON images(project_id, sha256);
CREATE INDEX IF NOT EXISTS images_by_seq ON images(project_id, seq);

CREATE TABLE IF NOT EXISTS image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    PRIMARY KEY (image_id, tag_id)
);
CREATE INDEX IF NOT EXISTS image_tags_by_tag ON image_tags(tag_id);

CREATE TABLE IF NOT EXISTS iterations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    trained_at TEXT,
    domain_id TEXT NOT NULL,
    classification_type TEXT NOT NULL,
    training_type TEXT NOT NULL,
    reserved_budget_hours INTEGER NOT NULL DEFAULT 0,
    training_seconds REAL,
    publish_name TEXT,
    publish_resource_id TEXT,
    error_details TEXT,
    fingerprint TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',      -- [[tag id, tag name], ...] in the model's output order
    snapshot TEXT NOT NULL DEFAULT '[]',  -- [[image sha256, [tag id, ...]], ...] the training set
    model_digest TEXT,                    -- blob: the trained head (npz)
    heldout_digest TEXT,                  -- blob: cross-validated predictions (npz)
    timings TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS iterations_by_publish_name
    ON iterations(project_id, publish_name) WHERE publish_name IS NOT NULL;

CREATE TABLE IF NOT EXISTS exports (
    id TEXT PRIMARY KEY,
    iteration_id TEXT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    flavor TEXT,
    status TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    blob_digest TEXT,
    created TEXT NOT NULL,
    expires REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS features (
    sha256 TEXT NOT NULL,
    backbone TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (sha256, backbone)
);

CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iteration_id TEXT,
    application TEXT,
    sha256 TEXT NOT NULL,
    predictions TEXT NOT NULL,
    created TEXT NOT NULL
);
"""),
    Migration(2, "training leases: a replica claims a training, renews its lease and only the holder finishes it",
              """
ALTER TABLE iterations ADD COLUMN lease_owner TEXT;
ALTER TABLE iterations ADD COLUMN lease_expires REAL;
ALTER TABLE iterations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- one training of a project at a time, as a constraint (the check in create_iteration says why first)
CREATE UNIQUE INDEX IF NOT EXISTS iterations_training ON iterations(project_id) WHERE status = 'Training';
"""),
    # A data folder made by a release without versioning, after stored predictions were listed, has it already.
    Migration(3, "stored predictions listed by project, newest or oldest first", """
CREATE INDEX IF NOT EXISTS predictions_by_created ON predictions(project_id, created);
"""),
    Migration(4, "project exports: a project as exported, behind its import token, until the token expires", """
CREATE TABLE IF NOT EXISTS project_exports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,             -- of the exported-project format (store/exported.py)
    project TEXT NOT NULL,                -- {name, description, domainId, classificationType, targetExportPlatforms}
    tags TEXT NOT NULL,                   -- [{key, name, description, type, created}, ...]
    snapshot TEXT NOT NULL,               -- [{sha256, ..., tags, regions}, ...] the images: blobs kept until it expires
    created TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS project_exports_by_project ON project_exports(project_id);
"""),
    Migration(5, "exports built in the background: when each began, and one export of a platform and flavor at a time",
              """
ALTER TABLE exports ADD COLUMN started REAL;
CREATE UNIQUE INDEX IF NOT EXISTS exports_running ON exports(iteration_id, platform, COALESCE(flavor, ''))
    WHERE status = 'Exporting';
"""),
    # An object detection image's tags are its regions' tags: the store keeps image_tags in step with regions,
    # so tagged/untagged listings, tag filters and tags' image counts read the same rows for both project types.
    Migration(6, "object detection: regions of images, the regions an iteration trained on; suggested tags and "
                 "regions", """
CREATE TABLE IF NOT EXISTS regions (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    box_left REAL NOT NULL,               -- normalised to the image as displayed (EXIF orientation applied)
    box_top REAL NOT NULL,
    box_width REAL NOT NULL,
    box_height REAL NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS regions_by_image ON regions(image_id);
CREATE INDEX IF NOT EXISTS regions_by_tag ON regions(tag_id);
-- {image sha256: [[region id, tag id, left, top, width, height], ...]}: an object detection training set's boxes
ALTER TABLE iterations ADD COLUMN regions TEXT NOT NULL DEFAULT '{}';
-- what an iteration predicted for an image when suggest_tags_and_regions asked (query_suggested_images reads it)
CREATE TABLE IF NOT EXISTS suggestions (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    iteration_id TEXT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    predictions TEXT NOT NULL,            -- [{tagId, tagName, tagType, probability, boundingBox}, ...] highest first
    uncertainty REAL NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (image_id, iteration_id)
);
CREATE INDEX IF NOT EXISTS suggestions_by_iteration ON suggestions(iteration_id)
"""),
)
LATEST = MIGRATIONS[-1].version

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied TEXT NOT NULL
)"""

# The unique indexes that state a Custom Vision rule: what a client is told when a write breaks one. (Checks
# before each write say it first; these catch two replicas that pass the check together.)
UNIQUE_RULES = {
    "projects_by_name": ("BadRequestProjectNameNotUnique", "A project with this name already exists."),
    "tags_by_name": ("BadRequestTagNameNotUnique", "A tag with this name already exists in this project."),
    "iterations_by_publish_name": ("BadRequestInvalidPublishName",
                                   "This publish name is already taken in this project."),
    "iterations_training": ("BadRequestTrainingAlreadyInProgress", "A training of this project is already in progress."),
    "exports_running": ("BadRequestExportAlreadyInProgress",
                        "An export of this iteration to this platform is already in progress."),
}


def statements(sql: str) -> list[str]:
    """The statements of a migration (no statement of the schema holds a `;` of its own)."""
    return [s.strip() for s in sql.split(";") if s.strip()]


def migrate(db: Database) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied now (usually none)."""
    applied_now = []
    with db.migration() as c:
        c.execute(VERSION_TABLE)
        applied = {row[0] for row in c.execute("SELECT version FROM schema_version").fetchall()}
        if applied and max(applied) > LATEST:
            raise SchemaTooNew(f"the database is at schema version {max(applied)}, newer than this cvlocal knows "
                               f"({LATEST}): run the cvlocal release that migrated it, or a newer one")
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            for statement in statements(db.ddl(migration.sql)):
                c.execute(statement)
            c.execute("INSERT INTO schema_version (version, name, applied) VALUES (?,?,?)",
                      (migration.version, migration.name, utcnow()))
            applied_now.append(migration.version)
    if applied_now:
        log.info("schema migrated to version %d (applied %s)", LATEST, ", ".join(map(str, applied_now)))
    return applied_now


def schema_version(db: Database) -> int:
    row = db.query_one("SELECT MAX(version) FROM schema_version")
    return row[0] or 0
