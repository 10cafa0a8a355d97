"""Application services: one function per use case, called by every entry point (the command line, the HTTP API,
the console). Each takes the wired ``App`` (config/bootstrap.py) and the acting ``Principal`` (models/authz.py),
opens its own unit of work and returns a typed result; none holds SQL (that is the store's, in ``models``)."""
