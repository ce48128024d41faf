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
from .regions import RegionTables
from .suggestions import SuggestionTables
from .tags import TagTables


class SqlTables(ProjectTables, TagTables, ImageTables, RegionTables, IterationTables, ExportTables,
                ProjectExportTables, PredictionTables, SuggestionTables, FeatureTables, MaintenanceTables):
    db: Database
