"""What every request and response model shares: camelCase on the wire, Custom Vision's query conventions, and
JSON bodies read under a size limit into a model.

Validators raise Custom Vision's errors themselves (cvlocal/errors.py), so a refused field answers with its own
code (`BadRequestProjectName`, ...); what pydantic refuses on its own (a string for a number) is `BadRequest`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUseDefault

from ... import errors
from ...net.bodies import SMALL_BODY, read_body

M = TypeVar("M", bound=BaseModel)
MAX_NAME = 256  # project, tag, iteration and publish names


class Wire(BaseModel):
    """A Custom Vision JSON model: snake_case here, camelCase on the wire; unknown keys are ignored. Defaults are
    validated too, so a missing required value is refused as a wrong one is."""
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, validate_default=True)


def _flag(value: Any) -> Any:
    """Booleans as the SDK sends them (`true`/`false`); empty means the default; anything else is refused."""
    if isinstance(value, str):
        if value == "":
            raise PydanticUseDefault()
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise errors.bad_request(f"'{value}' is not a boolean; use true or false.")
    return value


def _id_list(value: Any) -> Any:
    """Array query parameters arrive comma-joined (`tagIds=a,b`); repeated keys are taken too."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items if isinstance(item, str) for part in item.split(",") if part.strip()]


def name_of(kind: str, code: str) -> AfterValidator:
    """A name (stripped) of 1 to MAX_NAME characters, refused with `code`."""
    def check(name: str) -> str:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise errors.bad_request(f"{kind} name must be 1 to {MAX_NAME} characters.", code)
        return name
    return AfterValidator(check)


Flag = Annotated[bool, BeforeValidator(_flag)]
IdList = Annotated[list[str], BeforeValidator(_id_list)]


def describe(problems: list[dict], skip: int = 0) -> str:
    """pydantic's complaints as one line a client can act on: where, and what is wrong."""
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ())[skip:]) or "request"
        parts.append(f"{where}: {problem.get('msg')}")
    return "Invalid request: " + "; ".join(parts)


def json_model(model: type[M], *, code: str = "BadRequest", limit: int | Callable[[Request], int] = SMALL_BODY,
               required: str | None = None) -> Any:
    """A dependency: the JSON body (at most `limit` bytes, or what `limit(request)` says) as `model`, refused
    with `code` when it does not fit.

    An empty body (the SDK posts `Content-Length: 0` when there are no options) is None, or, when the operation
    needs a body, refused with the message `required`.
    """
    async def body(request: Request) -> M | None:
        raw = await read_body(request, limit(request) if callable(limit) else limit)
        if not raw.strip():
            if required:
                raise errors.bad_request(required, code)
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            problems = exc.errors()
            if any(p["type"] == "json_invalid" for p in problems):
                raise errors.bad_request("The request body is not valid JSON.") from None
            raise errors.bad_request(describe(problems), code) from None

    return Depends(body)
