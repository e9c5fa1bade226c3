"""The composition root: builds the Litestar app from each package's routes and holds the ``emon`` CLI."""
