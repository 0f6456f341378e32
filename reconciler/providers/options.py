"""Reading a provider block of couponctl.yaml as every vendor does: typed options that collect every problem,
the HTTP settings and retry policies, and its ``${env:NAME}`` credentials resolved from the environment.

Options may be written flat (``oauth.tokenUrl: ...``) or nested (``oauth: {tokenUrl: ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler import __version__
from reconciler.config.model import CONFIG_FILE, ProviderConfig
from reconciler.config.secrets import Secret
from reconciler.errors import ConfigError, Problem
from reconciler.providers.http import HttpSettings, RetryPolicy

USER_AGENT = f"couponctl/{__version__}"
DEFAULT_CONCURRENCY = 8


def problem(config: ProviderConfig, field: str, message: str) -> Problem:
    """A problem of the provider block of ``config``, at ``providers.<name>.<field>``."""
    return Problem(CONFIG_FILE, 0, 0, f"providers.{config.name}.{field}", message)


def config_error(config: ProviderConfig, field: str, message: str) -> ConfigError:
    return ConfigError([problem(config, field, message)])


def resolve(
    config: ProviderConfig, keys: tuple[str, ...], environ: Mapping[str, str]
) -> tuple[dict[str, Secret | None], list[Problem]]:
    """Every configured ``${env:NAME}`` among ``keys``, and a problem for each variable that is not set."""
    values: dict[str, Secret | None] = {}
    unset = []
    for key in keys:
        ref = config.credentials.get(key)
        values[key] = ref.resolve(environ) if ref is not None else None
        if ref is not None and values[key] is None:
            unset.append(problem(config, f"credentials.{key}", f"environment variable {ref.env_name} is not set"))
    return values, unset


def request_timeout_seconds(config: ProviderConfig) -> float:
    """How long one of this provider's requests may be in flight once its first byte left: its write and read
    timeouts, after which couponctl gives up on it (``timeoutSeconds``, 60 s each by default)."""
    http, _, _ = http_options(Options(config))
    return http.write_timeout + http.read_timeout


def http_options(options: Options) -> tuple[HttpSettings, RetryPolicy, RetryPolicy]:
    """Timeouts, concurrency, rate, and the read and issue retry policies, as every provider type reads them;
    No client-side rate limit unless ``requestsPerSecond`` is set: neither vendor documents one for these
    operations, and both answer a call over their limit with a throttle that proves nothing was processed
    (waited out and retried). ``concurrency`` bounds the calls in flight. With ``adaptive`` (the default) the calls
    in flight and the rate find their own level below both (reconciler.providers.adaptive)."""
    concurrency = options.integer("concurrency", DEFAULT_CONCURRENCY, minimum=1)
    read_retry = RetryPolicy(
        attempts=options.integer("readAttempts", 5, minimum=1),
        base_delay=options.number("retryBaseDelaySeconds", 0.5),
        max_delay=options.number("retryMaxDelaySeconds", 30.0),
        max_retry_after=options.number("maxRetryAfterSeconds", 120.0),
    )
    issue_retry = RetryPolicy(
        attempts=options.integer("issueThrottleAttempts", 3, minimum=1),
        base_delay=read_retry.base_delay,
        max_delay=read_retry.max_delay,
        max_retry_after=read_retry.max_retry_after,
    )
    timeout = options.number("timeoutSeconds", 60.0, positive=True)
    http = HttpSettings(
        connect_timeout=options.number("connectTimeoutSeconds", 10.0, positive=True),
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
        concurrency=concurrency,
        requests_per_second=options.number("requestsPerSecond", 0.0),
        adaptive=options.boolean("adaptive", True),
    )
    return http, read_retry, issue_retry


class Options:
    """Typed reads of ``config.options`` that collect every problem, raised together."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self.problems: list[Problem] = []

    def get(self, key: str) -> object:
        return self._config.option(key)

    def bad(self, key: str, message: str) -> None:
        self.problems.append(problem(self._config, f"options.{key}", message))

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.bad(key, f"must be an integer >= {minimum}")
            return default
        if maximum is not None and value > maximum:
            self.bad(key, f"must be at most {maximum}")
            return default
        return value

    def number(self, key: str, default: float, *, positive: bool = False) -> float:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and not value):
            self.bad(key, "must be a positive number" if positive else "must be a number >= 0")
            return default
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.bad(key, "must be true or false")
            return default
        return value

    def text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.bad(key, "must be a non-empty string")
            return None
        return value

    def identifier(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit():
            self.bad(key, "must be a numeric id")
            return None
        return text
