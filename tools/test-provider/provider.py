"""A real Terraform provider for infra's tests: `infra.test/infra/infratest`, written with
PyPI's `tf` framework (the plugin protocol 6 over gRPC, as Terraform runs every provider).
Terraform 1.0.3 offline can download no provider, and policies, approvals and plans are
about resources: this one gives the tests resources that really are created, updated,
replaced and deleted in Terraform's state.

`infratest_thing { name; value; }`: `name` cannot change in place (a change replaces it);
`id` is computed. Nothing exists outside the state, except that when `INFRATEST_LEDGER`
names a file every create, update and delete appends a line to it, so a test can see what
Terraform really did.
"""

import os
from typing import Optional, Type

from tf import runner, schema, types
from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
    UpgradeContext,
)
from tf.provider import Provider
from tf.utils import Diagnostics


def _ledger(line: str) -> None:
    path = os.environ.get("INFRATEST_LEDGER")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class Thing(Resource):
    @classmethod
    def get_name(cls) -> str:
        return "thing"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return schema.Schema(
            attributes=[
                schema.Attribute("name", types.String(), required=True, requires_replace=True),
                schema.Attribute("value", types.String(), optional=True),
                schema.Attribute("id", types.String(), computed=True),
            ]
        )

    def __init__(self, provider: "InfraTest"):
        self.provider = provider

    def create(self, ctx: CreateContext, planned: State) -> Optional[State]:
        _ledger(f"create {planned['name']}")
        return {**planned, "id": f"thing-{planned['name']}"}

    def read(self, ctx: ReadContext, current: State) -> Optional[State]:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> Optional[State]:
        _ledger(f"update {planned['name']}")
        return {**planned, "id": current["id"]}

    def delete(self, ctx: DeleteContext, current: State):
        _ledger(f"delete {current['name']}")
        return None

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> Optional[State]:
        # One schema version so far: the state is as it is (and no warning about it).
        return old


class InfraTest(Provider):
    def full_name(self) -> str:
        return "infra.test/infra/infratest"

    def get_model_prefix(self) -> str:
        return "infratest_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config):
        pass

    def configure_provider(self, diags: Diagnostics, config: Config):
        pass

    def get_data_sources(self) -> list[Type[DataSource]]:
        return []

    def get_resources(self) -> list[Type[Resource]]:
        return [Thing]


def main() -> None:
    runner.run_provider(InfraTest())


if __name__ == "__main__":
    main()
