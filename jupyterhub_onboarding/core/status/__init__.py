"""The status document of ``api/v1/status``: its model, writer, reader and JSON Schema.

Import from the modules (``model``, ``write``, ``read``, ``schema``): the service's own
figure types are made of the model's, so this package imports nothing at its top.
"""
