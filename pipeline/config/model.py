"""The pipeline's config model: one YAML file describes a Custom Vision project, its dataset, the quality bar
and the published name. Loading (YAML, ${VAR} expansion, file:line errors) lives in `loader.py`."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pipeline.redact import register_secret


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProjectConfig(_Section):
    """The Custom Vision project, found by name or created."""

    name: str = Field(min_length=1, description="Project name; the project is found by this name or created.")
    description: str = Field("", description="Project description, used when the project is created.")
    domain: str = Field("General", description="Domain name as `get_domains` lists it (e.g. General, Food, "
                                               "Landmarks, Retail, General [A1], General (compact)).")
    classification_type: Literal["Multiclass", "Multilabel"] = Field(
        "Multiclass", description="Multiclass: one tag an image. Multilabel: any number of tags an image.")
    allow_domain_change: bool = Field(
        False, description="Move an existing project on another domain to `domain` (e.g. to a compact domain, "
                           "to export); its iterations keep the domain they were trained on.")


class ServiceConfig(_Section):
    """Where the Custom Vision training and prediction resources are. Keys are optional: without them,
    Entra ID bearer tokens from azure-identity are sent instead (pipeline/sdk/credentials.py)."""

    training_endpoint: str | None = Field(
        None, description="Training endpoint, e.g. https://NAME.cognitiveservices.azure.com/.")
    training_key: SecretStr | None = Field(None, description="Training key; empty or absent: keyless (Entra ID).")
    prediction_endpoint: str | None = Field(None, description="Prediction endpoint; defaults to the training endpoint.")
    prediction_key: SecretStr | None = Field(None, description="Prediction key; empty or absent: keyless (Entra ID).")
    prediction_resource_id: str | None = Field(
        None, description="ARM resource id of the prediction resource that iterations are published to.")
    pulumi_stack: str | None = Field(
        None, description="Read the five CUSTOM_VISION_* values from this Pulumi stack's outputs (as `--stack`).")
    max_attempts: int = Field(8, ge=1, le=20, description="Attempts per call on 429, 5xx and connection errors.")
    max_delay_seconds: float = Field(60.0, gt=0, description="Longest wait between two attempts.")
    tier: Literal["F0", "S0"] | None = Field(
        None, description="The account's pricing tier: calls are paced to its rates (F0: 2 training calls/s; S0: "
                          "10; other calls 10/s) and a dataset over its limits is refused before any upload.")
    requests_per_second: float | None = Field(
        None, gt=0, le=1000, description="Pace calls to this rate instead (training calls also to the tier's).")
    rbac_wait_minutes: float = Field(
        15.0, ge=0, le=120, description="Keyless (Entra ID) only: how long HTTP 401/403 answers are retried while "
                                        "a new role assignment applies (Microsoft documents up to 10 minutes; up "
                                        "to 30 are seen). 0: not at all. A wrong key is never retried.")

    @field_validator("tier", mode="before")
    @classmethod
    def _tier_name(cls, value: object) -> object:
        """`${CUSTOM_VISION_TIER:-}` left empty means not known; `s0` is S0."""
        if isinstance(value, str):
            return value.strip().upper() or None
        return value


class DatasetConfig(_Section):
    """The labelled images: one folder per tag, or a CSV/JSON manifest of path and tags; on disk (`path`), in a
    zip archive downloaded once (`url` + `sha256`), or in an Azure Blob Storage container (`container`)."""

    path: Path | None = Field(None, description="Folder of tag folders (folder-per-tag), or the manifest file "
                                                "(manifest). Give `path`, `url` or `container`.")
    url: str | None = Field(None, pattern=r"^https?://", description="http(s) URL of a zip archive of the dataset, "
                            "downloaded once into the cache, checked against `sha256` and extracted there.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$",
                               description="SHA-256 of the zip archive (required with `url`).")
    subfolder: str = Field("", description="With `url`: the folder inside the archive that holds the tag folders "
                                           "(folder-per-tag) or the manifest file (manifest), e.g. training-images.")
    cache_dir: Path | None = Field(None, description="With `url`: where archives are kept and extracted "
                                                     "(default $CVOPS_CACHE, else ~/.cache/cvops).")
    layout: Literal["folder-per-tag", "manifest", "label-files"] = Field(
        "folder-per-tag", description="folder-per-tag: PATH/TAG/IMAGE. manifest: a .csv (columns path,tags; "
                                      "tags separated by ';') or .json ([{path, tags: [...]}]) file. label-files "
                                      "(containers only): each IMAGE beside an IMAGE.labels blob, one tag a line.")
    tag_names: dict[str, str] = Field(
        default_factory=dict, description="Folder or manifest tag -> Custom Vision tag name "
                                          "(e.g. Japanese_Cherry: Japanese Cherry).")
    sync: Literal["add-only", "retag", "mirror"] = Field(
        "retag", description="How `run` makes the project match the dataset. add-only: upload missing images, "
                             "change nothing else. retag (default): also give the project's copy of each dataset "
                             "image the dataset's tags. mirror: also delete images the dataset no longer has "
                             "(within max_delete).")
    max_delete: int | None = Field(
        None, ge=0, description="With sync: mirror, the most images one run may delete; more is refused "
                                "(nothing deleted) unless `--allow-mass-delete`. Default: the larger of 10 images "
                                "and 10% of the project.")
    # Azure Blob Storage. The credential is never in the file: AZURE_STORAGE_CONNECTION_STRING, or
    # AZURE_STORAGE_SAS_TOKEN with `account_url`, or DefaultAzureCredential with `account_url`.
    container: str | None = Field(None, pattern=r"^[a-z0-9](?:-?[a-z0-9])+$", min_length=3, max_length=63,
                                  description="Azure Blob Storage container holding the dataset (instead of "
                                              "`path` or `url`).")
    prefix: str = Field("", description="With `container`: the virtual folder holding one folder per tag "
                                        "(folder-per-tag), or the manifest blob's name (manifest).")
    account_url: str | None = Field(None, description="With `container`: the blob endpoint, e.g. "
                                                      "https://ACCOUNT.blob.core.windows.net (optional with "
                                                      "AZURE_STORAGE_CONNECTION_STRING; never a SAS here).")

    @field_validator("account_url")
    @classmethod
    def _mask_query(cls, value: str | None) -> str | None:
        # A SAS pasted into the URL is refused when the container is read (dataset/container.py); masked
        # from here on, so no error message can echo it.
        if value and "?" in value:
            register_secret(value.split("?", 1)[1])
        return value

    @property
    def remote(self) -> str | None:
        """Where a dataset that is not a local path comes from (None for `path`)."""
        if self.container is not None:
            return f"blob container {self.container!r}" + (f", prefix {self.prefix!r}" if self.prefix else "")
        return self.url

    @model_validator(mode="after")
    def _path_or_url(self) -> "DatasetConfig":
        if sum(value is not None for value in (self.path, self.url, self.container)) != 1:
            raise ValueError("give exactly one of `path` (a local folder or manifest), `url` (a zip archive) or "
                             "`container` (an Azure Blob Storage container)")
        if self.layout == "label-files" and self.container is None:
            raise ValueError("layout `label-files` (IMAGE.labels beside each image) is read from a `container`")
        if self.url is not None and self.sha256 is None:
            raise ValueError("`url` needs `sha256`, the archive's SHA-256, so a changed download is refused")
        return self


class UploadConfig(_Section):
    """How images are sent: batches of at most `batch_images` images and `batch_megabytes` of image bytes."""

    batch_images: int = Field(64, ge=1, le=64, description="Images per create_images_from_files call (at most 64).")
    batch_megabytes: float = Field(24.0, gt=0, le=256, description="Image bytes per call, before base64.")


class TrainingConfig(_Section):
    type: Literal["Regular", "Advanced"] = Field("Regular", description="Custom Vision training type.")
    budget_hours: int = Field(0, ge=0, description="Reserved budget in hours (Advanced training).")
    timeout_minutes: float = Field(60.0, gt=0, description="Give up waiting for an iteration after this long.")
    notification_email: str | None = Field(None, description="Email the service notifies when training ends.")


class EvaluationConfig(_Section):
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Probability threshold for precision and recall.")


class MetricGates(_Section):
    precision: float | None = Field(None, ge=0.0, le=1.0, description="Minimum precision (0-1).")
    recall: float | None = Field(None, ge=0.0, le=1.0, description="Minimum recall (0-1).")
    average_precision: float | None = Field(None, ge=0.0, le=1.0, description="Minimum average precision (0-1).")


class NoRegressionGate(_Section):
    tolerance: float = Field(0.02, ge=0.0, le=1.0,
                             description="Allowed drop of each metric against the iteration now published.")
    metrics: list[Literal["precision", "recall", "average_precision"]] = Field(
        default_factory=lambda: ["precision", "recall", "average_precision"], description="Metrics compared.")


class ConfusionGate(_Section):
    """The worst confused pair of tags, from the held-out predictions (docs/pipeline-config.md, Confusion)."""

    max_pair_rate: float = Field(ge=0.0, le=1.0, description="Most that one pair (given tag A, predicted as tag B) "
                                                             "may reach: B's share of A's held-out images (0-1).")


class SuspectsGate(_Section):
    """Training images whose label looks wrong (docs/pipeline-config.md, Suspect labels)."""

    min_score: float = Field(0.9, ge=0.0, lt=1.0, description="A suspect (another tag more likely than the given "
                                                                "one, held out) counts when its score, 1 - p(given "
                                                                "tag), is above this.")
    max_count: int = Field(ge=0, description="Most suspects above min_score the iteration may have.")


class GatesConfig(MetricGates):
    """Overall thresholds, per-tag thresholds and no regression against the published iteration; the worst
    confused pair of tags and the suspect labels."""

    per_tag: dict[str, MetricGates] = Field(default_factory=dict, description="Thresholds for one tag, by tag name.")
    no_regression: NoRegressionGate | None = Field(None, description="Compare with the iteration now published.")
    confusion: ConfusionGate | None = Field(None, description="Fail when a pair of tags is confused too often.")
    suspects: SuspectsGate | None = Field(None, description="Fail when too many training labels look wrong.")


class SmokeTest(_Section):
    image: str = Field(min_length=1, description="Image file or http(s) URL quick-tested against the new iteration.")
    expect: str = Field(min_length=1, description="The tag that must come out on top.")
    min_probability: float | None = Field(None, ge=0.0, le=1.0, description="Lowest acceptable top probability.")


class PublishConfig(_Section):
    name: str = Field(min_length=1, description="Published name that clients call (moved to each new iteration).")
    keep_iterations: int = Field(10, ge=1, le=20, description="Iterations kept; older unpublished ones are deleted.")


class ReportConfig(_Section):
    json_path: Path | None = Field(None, alias="json", description="Where the JSON report is written.")
    markdown_path: Path | None = Field(None, alias="markdown", description="Where the Markdown report is written.")
    datasets: Path | None = Field(None, description="Folder that keeps the dataset manifests, one file per dataset "
                                                    "version (VERSION.json); default: `datasets` beside the JSON "
                                                    "report (else the Markdown one).")


class PipelineConfig(_Section):
    """A cvops pipeline. Relative paths are relative to the directory cvops runs in."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="cvops pipeline config")

    project: ProjectConfig
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    dataset: DatasetConfig
    upload: UploadConfig = Field(default_factory=UploadConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    smoke_test: list[SmokeTest] = Field(default_factory=list, description="Images whose top tag must match.")
    publish: PublishConfig
    report: ReportConfig = Field(default_factory=ReportConfig)

    def tag_name(self, source_tag: str) -> str:
        """The Custom Vision tag name for a folder or manifest tag."""
        return self.dataset.tag_names.get(source_tag, source_tag)
