"""Secrets: referenced as ${env:NAME} in config, held in a wrapper that never prints its value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.config import redaction


class Secret:
    """A credential value. ``str``/``repr`` show a mask; only :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redaction.register(value)  # whatever happens to it later, it never reaches output

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A ``${env:NAME}`` reference, resolved at use time so that validate needs no credentials."""

    env_name: str

    def resolve(self, environ: Mapping[str, str]) -> Secret | None:
        value = environ.get(self.env_name)
        return Secret(value) if value else None

    def __str__(self) -> str:
        return f"${{env:{self.env_name}}}"
