"""What-if: replay a past period's recorded events under another policy in a scratch database, and compare what it
decides with what really happened (the real database is only read)."""

from __future__ import annotations

import tempfile
from datetime import date, time
from pathlib import Path
from typing import Any

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import InvalidInput, Problem


def what_if(
    app: App, principal: Principal, policy: Path, start: date, end: date, sweep_times: tuple[time, ...]
) -> dict[str, Any]:
    """The comparison of the period ``start`` … ``end`` (days in the policy's zone, ended before the app's clock's
    day) replayed under the policy file ``policy`` with the sweep run at ``sweep_times`` each day."""
    from hazardloop.config.loading import load_model
    from hazardloop.models.core.policy import Policy
    from hazardloop.models.store.whatif import compare, outcome, replay

    del principal  # the whole organisation's record: the operator at the server's shell
    other = load_model(policy, Policy)
    if end < start:
        raise InvalidInput([Problem(f"--to {end} is before --from {start}", field="--to")])
    today = app.clock.now().astimezone(app.policy.tz).date()
    if end >= today:
        raise InvalidInput([Problem(f"the period must have ended: --to must be before {today}", field="--to")])
    with tempfile.TemporaryDirectory(prefix="hazardloop-what-if-") as tmp:
        account, scratch = replay(
            app.engine, app.policy, other, app.org, start, end,
            f"sqlite:///{Path(tmp) / 'what-if.db'}", sweep_times=sweep_times,
        )  # fmt: skip
        try:
            real = outcome(app.engine, app.tree, account.start, account.end)
            replayed = outcome(scratch, app.tree, account.start, account.end)
        finally:
            scratch.dispose()
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "policy": str(policy),
        "replay": {
            "warmup_from": account.warmup.astimezone(app.policy.tz).date().isoformat(),
            "events": account.events,
            "sweeps": account.sweeps,
            "sweep_at": [t.strftime("%H:%M") for t in sweep_times],
            "seconds": round(account.seconds, 2),
        },
        **compare(real, replayed, account.refused),
    }
