"""`mode: self-hosted`: the cvlocal service itself in Azure, as one ComponentResource whose every resource is its
child (`parent=`), ending in the same stack outputs as the Custom Vision modes, so `cvops ... --stack` needs no
change. The pieces, each in its module: network.py, database.py, storage.py, secrets.py, registry.py, app.py."""
from __future__ import annotations

import pulumi
from pulumi_azure_native import managedidentity

from infra.resource_group import stack_resource_group
from infra.self_hosted.app import container_app, environment
from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.database import postgres
from infra.self_hosted.grants import Grants
from infra.self_hosted.network import private_network
from infra.self_hosted.registry import container_registry
from infra.self_hosted.secrets import service_secrets
from infra.self_hosted.storage import blob_storage

COMPONENT_TYPE = "cvops:infra:SelfHosted"


class SelfHosted(pulumi.ComponentResource):
    def __init__(self, name: str, args: SelfHostedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.args = args
        tags = {"project": "cvops", "stack": pulumi.get_stack(), "managed-by": "pulumi", **args.tags}
        self.resource_group, group = stack_resource_group(
            f"{name}-rg", args.resource_group_name, args.region, args.create_resource_group, tags, self)
        self.grants = Grants(self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_name_=args.names["identity"], resource_group_name=group,
            location=args.region, tags=tags, opts=pulumi.ResourceOptions(parent=self))
        self.network = private_network(name, args.names, group, args.region, tags, self)
        self.database = postgres(name, args, group, self.network, self.identity, tags, self)
        self.blobs = blob_storage(name, args, group, self.network, self.identity, self.grants, tags, self)
        self.secrets = service_secrets(name, args, group, self.identity, self.grants, tags, self)
        self.registry = container_registry(name, args, group, self.identity, self.grants, tags, self)
        self.environment = environment(name, args, group, self.network, tags, self)
        self.app = None
        if args.image:
            self.app = container_app(name, args, group, self.environment, self.identity, self.registry,
                                     self.secrets, self.database, self.blobs,
                                     [*self.grants.made, self.database.administrator], tags, self)
        else:
            pulumi.log.warn("cvops:image is not set: everything but the Container App is made; build and push the "
                            "image, then set cvops:image REGISTRY/REPOSITORY@sha256:... (deploy.yml does both)",
                            resource=self)
        self.resource_group_name = group
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output]:
        """The Custom Vision modes' outputs (pipeline/config/settings.py), then this mode's own."""
        endpoint = (pulumi.Output.concat("https://", self.app.configuration.apply(lambda c: c.ingress.fqdn), "/")
                    if self.app is not None else pulumi.Output.from_input(""))
        subscription = self.grants.subscription
        return {
            "trainingEndpoint": endpoint,
            "trainingKey": pulumi.Output.secret(self.secrets.values["training-key"]),
            "predictionEndpoint": endpoint,
            "predictionKey": pulumi.Output.secret(self.secrets.values["prediction-key"]),
            # cvlocal takes any prediction resource id of Azure's form; no Cognitive Services account exists.
            "predictionResourceId": pulumi.Output.concat(
                "/subscriptions/", subscription, "/resourceGroups/", self.resource_group_name,
                "/providers/Microsoft.CognitiveServices/accounts/", self.args.names["app"]),
            "region": pulumi.Output.from_input(self.args.region),
            "mode": pulumi.Output.from_input(self.args.mode),
            # The pipeline paces to F0/S0 as on Azure; unlimited: nothing to pace to.
            "trainingSku": pulumi.Output.from_input(self.args.tier if self.args.tier in ("F0", "S0") else ""),
            "resourceGroup": self.resource_group_name,
            "image": pulumi.Output.from_input(self.args.image or ""),
            "registryLoginServer": self.registry.login_server,
        }
