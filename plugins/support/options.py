"""Typed plugin options: a pydantic model per plugin, read from the settings' strings.

Settings hand a plugin its options as a mapping of strings. A plugin declares
them as a `PluginOptions` model and reads them with `PluginOptions.read`, which
refuses a malformed one with the plugin's own error naming the option and
never quoting its value (options hold tokens and passwords).

A blank value counts as not set, so it takes the default. Options the model
does not declare are ignored: one settings group may feed more than one reader
(the install options also reach the Kubernetes API; the git options carry the
server's own `read_token`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    ValidationError,
)
from pydantic_core import CoreSchema, ErrorDetails, core_schema

__all__ = ["Between", "Flag", "HttpUrl", "PluginOptions", "Word"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class PluginOptions(BaseModel):
    """The options one plugin reads; subclasses declare them as fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def read(cls, options: Mapping[str, str], who: str, error: type[Exception]) -> Self:
        """The options as this model, or `error` naming the first wrong one.

        `who` names the plugin in messages ("the kaniko builder").
        """
        given = {name: value for name, value in options.items() if value.strip()}
        try:
            return cls.model_validate(given)
        except ValidationError as invalid:
            raise error(_message(invalid.errors()[0], who)) from None


def _message(error: ErrorDetails, who: str) -> str:
    """One sentence about one wrong option; the value itself is never quoted."""
    name = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"{who} needs `{name}`"
    context = error.get("ctx") or {}
    if error["type"] == "value_error":
        problem = str(context.get("error"))
    elif error["type"] == "literal_error":
        problem = f"must be {context.get('expected')}"
    else:
        problem = "is not valid"
    # A check across options (a model validator) has no single option to name.
    return f"{who}'s `{name}` option {problem}" if name else f"{who} {problem}"


def _flag(value: object) -> object:
    if isinstance(value, str):
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise ValueError("must be true or false")
    return value


@dataclass(frozen=True)
class Between:
    """A number from `low` to `high`; `low` itself is refused when `above_low`."""

    low: float
    high: float
    above_low: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def _check(self, value: object) -> float:
        try:
            number = float(str(value))
        except ValueError:
            number = float("nan")
        too_low = number <= self.low if self.above_low else number < self.low
        # nan fails both comparisons, so a word is refused here too.
        if too_low or not number <= self.high:
            low = f"above {self.low:g}" if self.above_low else f"from {self.low:g}"
            raise ValueError(f"must be a number {low} to {self.high:g}")
        return number


def _word(value: str) -> str:
    value = value.strip()
    if any(c.isspace() for c in value) or len(value) > 255:
        raise ValueError("must be one word of at most 255 characters")
    return value


def _http_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
"""true/1/yes/on or false/0/no/off."""
Word = Annotated[str, AfterValidator(_word)]
"""Text without white space (an image, a quantity, a name), at most 255 characters."""
HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http(s) URL."""
