"""Version, cluster, transactions, and the auth-family services of an unactivated pachd."""

from __future__ import annotations

from pachmagic._proto import admin_pb2, auth_pb2, identity_pb2, license_pb2, transaction_pb2, version_pb2

from ..harness import Run
from . import scenario


@scenario("admin and version")
def admin(r: Run) -> None:
    r.version.GetVersion()
    r.admin.InspectCluster(admin_pb2.InspectClusterRequest())
    r.admin.InspectCluster(admin_pb2.InspectClusterRequest(client_version=version_pb2.Version(major=2, minor=12, micro=2)))
    r.admin.InspectCluster(admin_pb2.InspectClusterRequest(client_version=version_pb2.Version(major=2, minor=5)))
    r.admin.InspectCluster(admin_pb2.InspectClusterRequest(client_version=version_pb2.Version(major=3)))
    r.sdk.get_version()
    r.sdk.admin.inspect_cluster()


@scenario("auth, identity and license when auth is off")
def auth_off(r: Run) -> None:
    r.auth.WhoAmI(auth_pb2.WhoAmIRequest())
    r.auth.Deactivate(auth_pb2.DeactivateRequest())
    r.auth.GetRoleBinding(auth_pb2.GetRoleBindingRequest())
    r.identity.DeleteAll(identity_pb2.DeleteAllRequest())
    r.license.DeleteAll(license_pb2.DeleteAllRequest())
    r.sdk.auth.who_am_i()


@scenario("transactions")
def transactions(r: Run) -> None:
    r.transaction.ListTransaction(transaction_pb2.ListTransactionRequest())
    r.transaction.DeleteAll(transaction_pb2.DeleteAllRequest())
    r.transaction.InspectTransaction(transaction_pb2.InspectTransactionRequest(
        transaction=transaction_pb2.Transaction(id="0123456789ab4def8123456789abcdef")))
    r.transaction.ListTransaction(transaction_pb2.ListTransactionRequest())
