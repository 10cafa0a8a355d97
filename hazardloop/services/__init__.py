"""Application services: one function per use case, called by every entry point (the command line, the Prefect flows,
the embedded scheduler, the HTTP API, the console). Each takes the wired ``App`` (config/bootstrap.py, with its
clock) and the acting ``Principal`` (models/core/authz.py), opens its own unit of work and returns a typed result;
the SQL is the store's (``models/store``).

- ``hazards``: list and show hazards, act on one, detect one, apply a batch of events (``apply_events``)
- ``ledger_import``: import a hazard ledger (台账) as detection events
- ``supervision``: escalate, list a township, delist it, confirm a delisting proposal, decide an extension
- ``townships``: listing and delisting through the API's authorisation; the listings
- ``sweep``: the escalation sweep (recorded as the ``sweep`` job) and its preview
- ``dispatch``: send the pending notices (recorded as the ``dispatch`` job)
- ``reports`` and ``report_documents``: a period's figures, the scheduled report job, ``report PERIOD [--send]``,
  the ledger workbook
- ``notices``: list notices, read one as a document, send failed or dead ones again
- ``jobs``: record a job run, the scheduler's status and its lease
- ``admin``: ``init``, the readiness check, ``export``, recompute provisional deadlines
- ``readings``, ``whatif``: the indicator system's readings, the what-if replay
- ``accounts``, ``identity``, ``console_reads``: accounts and tokens, proving who acts, the console's reads
"""
