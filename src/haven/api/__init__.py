"""JSON API v1, documented at /openapi.json, authenticated with personal access tokens."""
