"""Field types every section shares, and the strict base every model derives from."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
# Servers, routes, aliases and intents: a name a client may send as `model`.
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
# Servers are also path segments of the admin API (/servers/{name}/...): no `/` (an alias
# or `served_name` carries a `/`-style name such as `Qwen/Qwen2.5-7B-Instruct`).
ServerName = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored); values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
