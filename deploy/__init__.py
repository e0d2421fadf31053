"""Running the app on more than one process: the throwaway PostgreSQL server, one replica's
start command, the HAProxy configuration, and `python -m deploy.cluster`, which puts them
together. The Dockerfile and compose.yaml use the same pieces."""
