"""The one schema of servers.yaml, validated strictly and once: neutral ground that the
supervisor, the proxy and the CLI all import, and that imports none of them.

    fields        shared field types and the strict base model
    endpoints     the OpenAI endpoint paths modelyard routes
    placeholders  `{name}` placeholders in commands, env values and model paths
    supervisor    the `supervisor` section
    servers       the `servers` section (and `Tier`, `Capability`)
    retry         retry policy and the breaker's settings
    proxy         the `proxy` section (and the declared degradations)
    classifier    the `classifier` section (intents)
    schema        `Config`, the whole file
    intents       the shipped intents (default_intents.yaml), merged under a config's own
    checks        cross-references the per-field schema cannot see
    loading       `load_config` / `parse_config`: YAML, schema and checks, every problem at once
    errors        `ConfigError`, with each problem's key path
"""

from modelyard_config.errors import ConfigError
from modelyard_config.loading import load_config, parse_config
from modelyard_config.schema import Config

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]
