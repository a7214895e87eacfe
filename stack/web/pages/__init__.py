"""The person's spaces: one module per space (home, drive, …), each with its ROUTES.

Pages are for the owner, signed in with the session; they read through the same services
and the same permission decision as the JSON APIs, and their scripts call those APIs
(`/files`, `/realtime/`) with the session cookie, like any other client.
"""
