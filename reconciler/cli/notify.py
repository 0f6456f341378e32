"""What the command line says of the notifications a command sent: a note per failed delivery, on stderr."""

from __future__ import annotations

import click

from reconciler.app.notify import Sent
from reconciler.config.redaction import scrub
from reconciler.render.terminal import defang


def echo_deliveries(sent: Sent) -> None:
    """A note per failed delivery (where it was recorded, or why not); delivered ones are silent."""
    if sent.error is not None:
        click.echo(defang(scrub(f"note: {sent.error}; the command's outcome is unchanged")), err=True)
    for delivery in sent.failed:
        outcome = delivery.outcome
        where = f"not recorded: {sent.unrecorded}" if sent.unrecorded else "recorded in the journal"
        click.echo(
            defang(
                scrub(
                    f"note: notification {delivery.notice.event.value} to {delivery.destination} failed after "
                    f"{outcome.attempts} attempt(s): {outcome.error}; {where}. The command's outcome is unchanged"
                )
            ),
            err=True,
        )
