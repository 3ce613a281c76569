"""The one settings object of ssbflow.

Values come, in increasing priority, from the defaults below, an optional YAML file
(``SSBFLOW_CONFIG_FILE`` or ``~/.config/ssbflow/config.yaml``), ``SSBFLOW_*`` environment
variables, and explicit keyword arguments (the CLI's data-folder option for example).

Example YAML file::

    data_dir: /scratch/me/ssbflow
    mongodb_uri: mongodb://user:${PASSWORD}@db.example.org:27017   # or SSBFLOW_MONGODB_URI
    database: ssbflow
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ssbflow.errors import InputError

DEFAULT_CONFIG_FILE = Path(user_config_dir("ssbflow")) / "config.yaml"


def _config_file() -> Path:
    return Path(os.environ.get("SSBFLOW_CONFIG_FILE", str(DEFAULT_CONFIG_FILE))).expanduser()


class SsbflowSettings(BaseSettings):
    """Settings for stores, the LaunchPad and defaults.

    Attributes
    ----------
    data_dir
        Folder of the embedded (file-backed) results store and LaunchPad.
    mongodb_uri
        When set, results go to MongoDB at this URI instead of the embedded store.
        Kept as a secret: it is never printed.
    database
        MongoDB database name (MongoDB mode only).
    launchpad_file
        FireWorks LaunchPad YAML; ``None`` means the embedded LaunchPad in ``data_dir``.
    default_calculator
        Calculator name used when a command does not name one.
    """

    model_config = SettingsConfigDict(env_prefix="SSBFLOW_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("ssbflow")))
    mongodb_uri: SecretStr | None = None
    database: str = "ssbflow"
    launchpad_file: Path | None = None
    default_calculator: str = "chgnet"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @property
    def uses_mongodb(self) -> bool:
        """True when results go to MongoDB rather than the embedded store."""
        return self.mongodb_uri is not None and bool(self.mongodb_uri.get_secret_value())


def get_settings(**overrides: Any) -> SsbflowSettings:
    """Load the settings, with explicit ``overrides`` (``None`` values ignored).

    Raises
    ------
    InputError
        If the YAML configuration file is unreadable or malformed.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    path = _config_file()
    explicit = os.environ.get("SSBFLOW_CONFIG_FILE")
    if explicit and not path.exists():
        raise InputError(
            f"SSBFLOW_CONFIG_FILE={explicit} does not exist; create that settings file or "
            "unset SSBFLOW_CONFIG_FILE",
            field="config_file",
        )
    if path.exists() and not path.is_file():
        raise InputError(
            f"the settings file {path} is a folder, not a YAML file; fix SSBFLOW_CONFIG_FILE",
            field="config_file",
        )
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            reason = " ".join(str(exc).split())
            raise InputError(
                f"cannot read the settings file {path}: {reason}; fix it or unset "
                "SSBFLOW_CONFIG_FILE",
                field="config_file",
            ) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise InputError(
                f"the settings file {path} must be a YAML mapping (data_dir: ..., "
                f"database: ...), not a {type(loaded).__name__}",
                field="config_file",
            )
    try:
        return SsbflowSettings(**clean)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise InputError(f"invalid ssbflow settings: {' '.join(first[:3])}") from exc
