"""Connect the way pachctl users do: from a pachctl config file (``$PACH_CONFIG``).

``Client.from_config()`` reads the active context's ``pachd_address`` (the SDK
checks no deployment id and sends no RPC until asked).
"""

from pachyderm_sdk import Client

client = Client.from_config()
version = client.get_version()
print("from_config(): version {}.{}.{}".format(version.major, version.minor, version.micro))
print("cluster deployment id: {}".format(client.admin.inspect_cluster().deployment_id))
