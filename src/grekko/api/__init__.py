"""The API gateway: REST under /api/v1, WebSocket /ws, GraphQL /graphql, operations endpoints.

DTOs live here (pydantic), never domain objects; every request is authenticated and authorized.
"""
