"""The EA ↔ sidecar bridge: message models, codec, the sidecar's ROUTER server and a Python EA client."""

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
