"""Connect the way pachctl users do: from a pachctl config file (``$PACH_CONFIG``).

``Client()`` with no arguments reads the active context's ``pachd_address``;
``Client.new_from_config`` also compares the context's
``cluster_deployment_id`` with what ``InspectCluster`` answers.
"""

import os

import python_pachyderm

client = python_pachyderm.Client()
version = client.get_remote_version()
print("Client(): version {}.{}.{}".format(version.major, version.minor, version.micro))
with open(os.environ["PACH_CONFIG"]) as config:
    try:
        client = python_pachyderm.Client.new_from_config(config)
    except python_pachyderm.BadClusterDeploymentID:
        print("new_from_config: BadClusterDeploymentID")
    else:
        print("new_from_config: deployment id matches {}".format(client.inspect_cluster().deployment_id))
