"""Every table's methods together: the Store interface on a `Database`, whichever engine runs it."""
from __future__ import annotations

from .db import Database
from .exports import ExportTables
from .features import FeatureTables
from .images import ImageTables
from .iterations import IterationTables
from .maintenance import MaintenanceTables
from .predictions import PredictionTables
from .project_exports import ProjectExportTables
from .projects import ProjectTables
from .tags import TagTables


class SqlTables(ProjectTables, TagTables, ImageTables, IterationTables, ExportTables, ProjectExportTables,
                PredictionTables, FeatureTables, MaintenanceTables):
    db: Database
