"""Read a pipeline config: YAML with line numbers, ${VAR} / ${VAR:-default} expansion, `~` in paths, Pulumi
stack outputs, and pydantic validation whose errors name the file, the line and what to fix (a misspelt key is
reported as unknown, with the key it was probably meant to be, not as that key missing; a percentage where a
fraction belongs says which fraction)."""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.config.model import PipelineConfig
from pipeline.config.settings import SECRET_FIELDS, SETTINGS
from pipeline.config.stack import TIER_VARIABLE
from pipeline.errors import ConfigError, PipelineError
from pipeline.redact import register_secret

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\})")

Loc = tuple[str | int, ...]


@dataclass
class ConfigSource:
    """Where each value of the config came from: the file and the line of every key and list item."""

    file: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of `loc`, else of its nearest ancestor that the file has (for missing fields)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def error(self, loc: Loc, message: str) -> ConfigError:
        dotted = _dotted(loc)
        return ConfigError(f"{dotted}: {message}" if dotted else message, self.file, self.line(loc))


@dataclass
class LoadedConfig:
    config: PipelineConfig
    source: ConfigSource
    stack: str | None = None


def load_config(path: str | Path, environ: Mapping[str, str] | None = None, stack: str | None = None,
                resolve_stack: bool = True) -> LoadedConfig:
    """Parse, expand and validate a config file. `resolve_stack=False` (validate) never calls Pulumi."""
    environ = dict(os.environ if environ is None else environ)
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    source = ConfigSource(file)
    data = _parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping with project, dataset, publish, ...", file, 1)

    service = data.get("service") if isinstance(data.get("service"), dict) else {}
    stack_name = stack or _expand_value(service.get("pulumi_stack"), ("service", "pulumi_stack"), environ, source)
    variables, outputs = environ, {}
    if stack_name:
        outputs = _stack_outputs(stack_name) if resolve_stack else {
            setting.variable: f"<{setting.variable} of stack {stack_name}>" for setting in SETTINGS}
        variables = {**environ, **outputs}
    data = _expand_value(data, (), variables, source)
    if stack_name and isinstance(data.setdefault("service", {}), dict):
        for setting in SETTINGS:
            if data["service"].get(setting.field) in (None, "") and setting.variable in outputs:
                data["service"][setting.field] = outputs[setting.variable]
        if data["service"].get("tier") in (None, "") and outputs.get(TIER_VARIABLE):
            data["service"]["tier"] = outputs[TIER_VARIABLE]  # the SKU, where the stack exports it
    _drop_empty_secrets(data)
    _expand_home(data)
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from None
    for secret in (config.service.training_key, config.service.prediction_key):
        if secret is not None:
            register_secret(secret.get_secret_value())
    return LoadedConfig(config, source, stack_name)


def _parse_yaml(text: str, source: ConfigSource) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", source.file, line) from None
    if node is None:
        raise ConfigError("the config file is empty", source.file, 1)
    source.lines[()] = node.start_mark.line + 1
    _index_lines(node, (), source)
    return yaml.safe_load(text)


def _index_lines(node: yaml.Node, loc: Loc, source: ConfigSource) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{_dotted(loc + (key,))}: duplicate key (first at line {seen[key]})",
                                  source.file, line)
            seen[key] = line
            source.lines[loc + (key,)] = line
            _index_lines(value_node, loc + (key,), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[loc + (index,)] = item.start_mark.line + 1
            _index_lines(item, loc + (index,), source)


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Expand ${VAR}, ${VAR:-default} (unset or empty), ${VAR-default} (unset) and $$ in one string.
    Raises KeyError(name) for an undefined variable without a default."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group(1), match.group(2), match.group(3)
        value = variables.get(name)
        if op == ":-" and not value:
            return default
        if op == "-" and value is None:
            return default
        if value is None:
            raise KeyError(name)
        return value
    return _VAR.sub(replace, text)


def _expand_value(value: Any, loc: Loc, variables: Mapping[str, str], source: ConfigSource) -> Any:
    if isinstance(value, dict):
        return {k: _expand_value(v, loc + (k,), variables, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_value(v, loc + (i,), variables, source) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    try:
        expanded = expand(value, variables)
    except KeyError as exc:
        name = exc.args[0]
        raise source.error(loc, f"environment variable {name} is not set: set it, or write "
                                f"${{{name}:-default}} for a default") from None
    if "${" in expanded and "${" in _VAR.sub("", value):
        raise source.error(loc, "malformed ${...}: write ${NAME} or ${NAME:-default}")
    return expanded


# Paths that may start with `~` (the home folder), as a shell would expand it.
_PATHS: tuple[Loc, ...] = (("dataset", "path"), ("dataset", "cache_dir"), ("report", "json"), ("report", "markdown"))


def _expand_home(data: dict) -> None:
    def expanded(value: Any) -> Any:
        return os.path.expanduser(value) if isinstance(value, str) and value.startswith("~") else value
    for section, name in _PATHS:
        if isinstance(data.get(section), dict) and name in data[section]:
            data[section][name] = expanded(data[section][name])
    for test in data.get("smoke_test") or []:
        if isinstance(test, dict) and "image" in test:
            test["image"] = expanded(test["image"])


def _drop_empty_secrets(data: dict) -> None:
    """An empty key (e.g. `${CUSTOM_VISION_TRAINING_KEY:-}`) means keyless, the same as no key."""
    service = data.get("service")
    if isinstance(service, dict):
        for name in SECRET_FIELDS:
            if service.get(name) == "":
                service[name] = None


def _stack_outputs(stack: str) -> dict[str, str]:
    try:
        from pipeline.config.stack import StackOutputsUnavailable, stack_outputs
    except ImportError as exc:
        raise PipelineError(f"reading Pulumi stack outputs is not available: {exc}") from None
    try:
        outputs = stack_outputs(stack)
    except StackOutputsUnavailable as exc:
        raise ConfigError(f"Pulumi stack {stack!r}: {exc}") from None
    for setting in SETTINGS:
        if setting.secret and outputs.get(setting.variable):
            register_secret(outputs[setting.variable])
    return {k: str(v) for k, v in outputs.items() if v is not None}


def _config_error(exc: ValidationError, source: ConfigSource) -> ConfigError:
    lines = []
    first_line = None
    errors = exc.errors()
    unknown = {tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and _misspelt_as(loc, unknown):
            continue  # `projct:` is reported once, as the unknown key it is (with "did you mean 'project'?")
        line = source.line(loc)
        first_line = first_line or line
        lines.append(f"{source.file}:{line}: {_describe(err, loc)}")
    error = ConfigError("\n".join(lines))
    error.file, error.line = source.file, first_line
    return error


def _describe(err: dict, loc: Loc) -> str:
    where, kind = _dotted(loc), err["type"]
    if kind == "extra_forbidden":
        fields = _allowed_fields(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
        near = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: unknown field {loc[-1]!r}{near}; allowed here: {', '.join(fields)}"
    if kind == "missing":
        return f"{where}: required field {loc[-1]!r} is missing"
    if kind in ("model_type", "dict_type"):
        return f"{where}: expected a mapping (key: value lines), got {type(err.get('input')).__name__}"
    if set(loc) & SECRET_FIELDS:  # never echo what was given for a key
        return f"{where}: {err['msg']}"
    given = err.get("input")
    if kind == "less_than_equal" and (err.get("ctx") or {}).get("le") == 1 and isinstance(given, (int, float)) \
            and 1 < given <= 100:
        return f"{where}: a fraction from 0 to 1, not a percentage: write {given / 100:g} for {given:g}%"
    return f"{where}: {err['msg']} (got {given!r})"


def _misspelt_as(missing: Loc, unknown: set[Loc]) -> bool:
    """Whether a missing required field sits beside an unknown key that is its misspelling."""
    siblings = [str(loc[-1]) for loc in unknown if loc[:-1] == missing[:-1]]
    return bool(difflib.get_close_matches(str(missing[-1]), siblings, n=1, cutoff=0.6))


def _allowed_fields(loc: Loc) -> list[str]:
    """The field names a mapping at `loc` accepts (for 'unknown field' errors)."""
    annotation: Any = PipelineConfig
    for part in loc:
        model = _model_of(annotation)
        if isinstance(part, int) or model is None:
            annotation = _item_of(annotation)
            continue
        info = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        annotation = info.annotation if info else None
    model = _model_of(annotation)
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if getattr(annotation, "__origin__", None) in (dict, list):
        return None
    return next((m for m in map(_model_of, getattr(annotation, "__args__", ()) or ()) if m), None)


def _item_of(annotation: Any) -> Any:
    """The value type of a list or dict annotation (dict keys and list indices skip to it)."""
    args = getattr(annotation, "__args__", ()) or ()
    return args[-1] if args else None


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
