"""The JSON API under /api/v1, /healthz and /readyz: thin adapters from HTTP to the use cases,
each endpoint declared once (`declare`: its parameters, its body's Cerberus schema, its answers)
for the checks it makes and for the OpenAPI 3.1 document generated from those declarations
(`openapi`, `jsonschema`); errors are RFC 9457 problem+json. Only `broker.app` imports from here
(the blueprints); nothing below imports this room.
"""
